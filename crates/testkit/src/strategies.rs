//! proptest strategies for random medications records (odd text, language
//! tags, shared fulfillments, missing parts), for the property tests that
//! write them in both styles.

use crate::model::{Drug, Fulfillment, Medication, Record, Text, ValueAndUnit};
use proptest::prelude::*;

/// Literal text: plain, any printable Unicode, XML-special characters,
/// whitespace only.
pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9 ,.\\-/]{0,24}",
        "\\PC{0,16}",
        "[&<>\"'\\]\n\r\t ]{0,6}",
        Just("2007".to_owned()),
        Just("阿司匹林 & <Tylenol>, \"quoted\"\nnext".to_owned()),
    ]
}

/// A text with a language tag one time in five (mixed case included).
pub fn lang_text() -> impl Strategy<Value = Text> {
    (
        text(),
        prop::option::weighted(
            0.2,
            prop_oneof![Just("en"), Just("fr"), Just("de-CH"), Just("zh-Hans")],
        ),
    )
        .prop_map(|(value, lang)| Text {
            value,
            lang: lang.map(str::to_owned),
        })
}

/// An `sp:ValueAndUnit`.
pub fn vau() -> impl Strategy<Value = ValueAndUnit> {
    (text(), text()).prop_map(|(value, unit)| ValueAndUnit { value, unit })
}

/// A fulfillment from a small id pool, so that medications share some.
pub fn fulfillment() -> impl Strategy<Value = Fulfillment> {
    ("f[0-4]", text(), "[0-9]{1,3}", prop::option::of(vau())).prop_map(
        |(id, date, days_supply, quantity)| Fulfillment {
            id,
            date,
            days_supply,
            quantity,
        },
    )
}

/// A medication with any of its parts missing.
pub fn medication() -> impl Strategy<Value = Medication> {
    (
        "[a-z0-9]{1,8}",
        prop::option::weighted(
            0.9,
            (prop::collection::vec(lang_text(), 0..3), "[0-9]{1,2}")
                .prop_map(|(titles, rxcui)| Drug { titles, rxcui }),
        ),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(vau()),
        prop::option::of(vau()),
        prop::collection::vec(fulfillment(), 0..3),
    )
        .prop_map(
            |(id, drug, start_date, end_date, instructions, quantity, frequency, fulfillments)| {
                Medication {
                    id,
                    drug,
                    start_date,
                    end_date,
                    instructions,
                    quantity,
                    frequency,
                    fulfillments,
                }
            },
        )
}

/// A record of up to five medications.
pub fn record() -> impl Strategy<Value = Record> {
    prop::collection::vec(medication(), 0..6).prop_map(|meds| Record {
        api_base: "http://localhost:7000".into(),
        record_id: "9999".into(),
        meds,
    })
}
