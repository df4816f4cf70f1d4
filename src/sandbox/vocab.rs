//! The code tables the synthetic records draw from: real codes (RxNorm,
//! SNOMED CT, LOINC, CVX, NDF-RT, UNII) with their display names, the SMART
//! enumerations, and the made-up pieces of a synthetic person (names,
//! streets, towns). Titles sometimes differ from the official names, as
//! local EHR names do.

/// A code system: the namespace its code URIs start with (which is also
/// its `sp:system` literal) and the `spcode:` class of its Code nodes.
#[derive(Clone, Copy)]
pub(crate) struct System {
    pub base: &'static str,
    pub class: &'static str,
}

pub(crate) const SNOMED_BASE: &str = "http://purl.bioontology.org/ontology/SNOMEDCT/";
pub(crate) const LOINC_BASE: &str = "http://purl.bioontology.org/ontology/LNC/";
pub(crate) const RXNORM_BASE: &str = "http://purl.bioontology.org/ontology/RXNORM/";
const NDFRT_BASE: &str = "http://purl.bioontology.org/ontology/NDFRT/";
const UNII_BASE: &str = "http://fda.gov/UNII/";
const CVX_BASE: &str = "http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=cvx#";
const VG_BASE: &str = "http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=vg#";
pub(crate) const ENCOUNTER_TYPE_BASE: &str = "http://smartplatforms.org/terms/codes/EncounterType#";

pub(crate) const SNOMED: System = System {
    base: SNOMED_BASE,
    class: "SNOMED",
};
pub(crate) const LOINC: System = System {
    base: LOINC_BASE,
    class: "LOINC",
};
pub(crate) const VITAL_NAME: System = System {
    base: LOINC_BASE,
    class: "VitalSign",
};
pub(crate) const RXNORM_SEMANTIC: System = System {
    base: RXNORM_BASE,
    class: "RxNorm_Semantic",
};
pub(crate) const RXNORM_INGREDIENT: System = System {
    base: RXNORM_BASE,
    class: "RxNorm_Ingredient",
};
pub(crate) const NDFRT: System = System {
    base: NDFRT_BASE,
    class: "NDFRT",
};
pub(crate) const UNII: System = System {
    base: UNII_BASE,
    class: "UNII",
};
pub(crate) const CVX: System = System {
    base: CVX_BASE,
    class: "ImmunizationProduct",
};
pub(crate) const VACCINE_GROUP: System = System {
    base: VG_BASE,
    class: "ImmunizationClass",
};
pub(crate) const ALLERGY_CATEGORY: System = System {
    base: SNOMED_BASE,
    class: "AllergyCategory",
};
pub(crate) const ALLERGY_SEVERITY: System = System {
    base: SNOMED_BASE,
    class: "AllergySeverity",
};
pub(crate) const ALLERGY_EXCLUSION: System = System {
    base: SNOMED_BASE,
    class: "AllergyExclusion",
};
pub(crate) const PROBLEM_STATUS: System = System {
    base: SNOMED_BASE,
    class: "ProblemStatus",
};
pub(crate) const PROCEDURE_STATUS: System = System {
    base: SNOMED_BASE,
    class: "ProcedureStatus",
};
pub(crate) const BP_POSITION: System = System {
    base: SNOMED_BASE,
    class: "BloodPressureBodyPosition",
};
pub(crate) const BP_SITE: System = System {
    base: SNOMED_BASE,
    class: "BloodPressureBodySite",
};
pub(crate) const BP_METHOD: System = System {
    base: "http://smartplatforms.org/terms/codes/BloodPressureMethod#",
    class: "BloodPressureMethod",
};
pub(crate) const ENCOUNTER_TYPE: System = System {
    base: ENCOUNTER_TYPE_BASE,
    class: "EncounterType",
};
pub(crate) const ADMIN_STATUS: System = System {
    base: "http://smartplatforms.org/terms/codes/ImmunizationAdministrationStatus#",
    class: "ImmunizationAdministrationStatus",
};
pub(crate) const REFUSAL_REASON: System = System {
    base: "http://smartplatforms.org/terms/codes/ImmunizationRefusalReason#",
    class: "ImmunizationRefusalReason",
};

/// A code with its title.
pub(crate) type Coded = (&'static str, &'static str);

// ------------------------------------------------------------ conditions

/// A condition a synthetic person may have: its problem-list code and
/// names, and what usually comes with it (drugs by RxCUI, lab panels,
/// procedures by SNOMED code).
pub(crate) struct Condition {
    pub snomed: &'static str,
    pub name: &'static str,
    pub variants: &'static [&'static str],
    /// Chronic conditions stay open; the others get an end date.
    pub chronic: bool,
    pub drugs: &'static [&'static str],
    pub panels: &'static [Panel],
    pub procedures: &'static [&'static str],
    /// Youngest age (years) at onset.
    pub min_age: u32,
}

const fn chronic(
    snomed: &'static str,
    name: &'static str,
    variants: &'static [&'static str],
    drugs: &'static [&'static str],
    panels: &'static [Panel],
    procedures: &'static [&'static str],
    min_age: u32,
) -> Condition {
    Condition {
        snomed,
        name,
        variants,
        chronic: true,
        drugs,
        panels,
        procedures,
        min_age,
    }
}

const fn acute(
    snomed: &'static str,
    name: &'static str,
    variants: &'static [&'static str],
    drugs: &'static [&'static str],
    panels: &'static [Panel],
) -> Condition {
    Condition {
        snomed,
        name,
        variants,
        chronic: false,
        drugs,
        panels,
        procedures: &[],
        min_age: 0,
    }
}

use Panel::*;

pub(crate) static CONDITIONS: &[Condition] = &[
    chronic(
        "59621000",
        "Essential hypertension",
        &["Hypertension, benign", "HTN"],
        &[
            "314076", "314077", "311354", "197361", "308135", "310798", "199903", "197381",
            "197380",
        ],
        &[Bmp],
        &["29303009"],
        25,
    ),
    chronic(
        "44054006",
        "Diabetes mellitus type 2",
        &["Type 2 diabetes mellitus, without complication", "DM2"],
        &["861007"],
        &[A1c, Bmp, Lipid, Urinalysis],
        &["390735007", "401191002", "284384005", "36228007"],
        20,
    ),
    chronic(
        "55822004",
        "Hyperlipidemia",
        &["Hyperlipidaemia", "Elevated lipids"],
        &["617318", "259255", "198211", "312961"],
        &[Lipid, Hepatic],
        &[],
        25,
    ),
    chronic(
        "35489007",
        "Depressive disorder",
        &["Depression, major", "Depressão"],
        &["312938", "312940", "310385", "352272"],
        &[Tsh],
        &[],
        14,
    ),
    chronic(
        "197480006",
        "Anxiety disorder",
        &["Anxiety & panic"],
        &["308047", "197591", "352272"],
        &[],
        &[],
        12,
    ),
    chronic(
        "90560007",
        "Gout",
        &[],
        &["197319", "197320"],
        &[Urate],
        &[],
        30,
    ),
    chronic(
        "49436004",
        "Atrial fibrillation",
        &["AFib"],
        &["855332", "866924", "866514"],
        &[Inr],
        &["29303009", "40701008"],
        45,
    ),
    chronic(
        "84114007",
        "Heart failure",
        &["Congestive heart failure"],
        &["310429", "314076", "866924"],
        &[Bnp, Bmp],
        &["40701008"],
        50,
    ),
    chronic(
        "53741008",
        "Coronary arteriosclerosis",
        &["CAD"],
        &["309362", "243670", "617318"],
        &[Lipid],
        &["29303009", "10326007"],
        45,
    ),
    chronic(
        "396275006",
        "Osteoarthritis",
        &["Osteoarthritis, knee"],
        &["310965", "197806", "313782", "198440"],
        &[],
        &["426945003"],
        40,
    ),
    chronic(
        "279039007",
        "Low back pain",
        &[],
        &["310965", "313782"],
        &[],
        &["426945003"],
        18,
    ),
    chronic(
        "195967001",
        "Asthma",
        &["Asthma, mild intermittent"],
        &["198145", "312617"],
        &[],
        &["401011001"],
        2,
    ),
    chronic(
        "13645005",
        "Chronic obstructive lung disease",
        &["COPD"],
        &["198145"],
        &[Cbc],
        &[],
        45,
    ),
    chronic("40930008", "Hypothyroidism", &[], &[], &[Tsh], &[], 10),
    chronic(
        "87522002",
        "Iron deficiency anemia",
        &["Anemia, iron deficiency"],
        &["310325"],
        &[Cbc, Smear],
        &[],
        1,
    ),
    chronic("414916001", "Obesity", &[], &[], &[A1c, Lipid], &[], 8),
    chronic(
        "235595009",
        "Gastroesophageal reflux disease",
        &["GERD"],
        &[],
        &[],
        &[],
        18,
    ),
    chronic(
        "37796009",
        "Migraine",
        &["Migräne"],
        &["310965", "198440"],
        &[],
        &[],
        10,
    ),
    chronic(
        "709044004",
        "Chronic kidney disease",
        &["CKD, stage 3"],
        &["310429"],
        &[Bmp, Urinalysis],
        &["302497006"],
        40,
    ),
    chronic(
        "428041000124106",
        "Occasional tobacco smoker",
        &[],
        &[],
        &[],
        &["384742004"],
        16,
    ),
    acute(
        "68566005",
        "Urinary tract infectious disease",
        &["UTI"],
        &["309309", "562251"],
        &[Urinalysis],
    ),
    acute(
        "233604007",
        "Pneumonia",
        &["Pneumonia, organism unspecified"],
        &["308460", "562251"],
        &[Cbc],
    ),
    acute("10509002", "Acute bronchitis", &[], &["308460"], &[]),
    acute(
        "43878008",
        "Streptococcal sore throat",
        &["Strep throat"],
        &["308182", "308191"],
        &[],
    ),
    acute(
        "65363002",
        "Otitis media",
        &["Otitis media, acute"],
        &["308191", "562251"],
        &[],
    ),
    acute("36971009", "Sinusitis", &[], &["308191"], &[]),
];

// ------------------------------------------------------------ lab results

/// A lab panel: tests drawn on one date.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Panel {
    Bmp,
    Cbc,
    Lipid,
    A1c,
    Hepatic,
    Tsh,
    Urate,
    Inr,
    Bnp,
    Urinalysis,
    Smear,
}

/// Panels anyone may get.
pub(crate) static ROUTINE_PANELS: &[Panel] = &[Bmp, Cbc, Cbc, Lipid, Urinalysis, Hepatic];

/// How a test's result is written.
pub(crate) enum Scale {
    /// A number in `low..high` (with `decimals`), sometimes out of range.
    Quantity {
        low: f64,
        high: f64,
        decimals: usize,
    },
    /// A quantitative result whose values are not numbers.
    Text(&'static [&'static str]),
    /// A narrative result (ordinal, nominal or narrative scale).
    Narrative(&'static [&'static str]),
}

/// One lab test: LOINC code, LOINC short name, UCUM unit (may be empty).
pub(crate) struct LabTest {
    pub loinc: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub scale: Scale,
}

const fn qn(
    loinc: &'static str,
    name: &'static str,
    unit: &'static str,
    low: f64,
    high: f64,
    decimals: usize,
) -> LabTest {
    LabTest {
        loinc,
        name,
        unit,
        scale: Scale::Quantity {
            low,
            high,
            decimals,
        },
    }
}

const fn nar(loinc: &'static str, name: &'static str, values: &'static [&'static str]) -> LabTest {
    LabTest {
        loinc,
        name,
        unit: "",
        scale: Scale::Narrative(values),
    }
}

static BMP: &[LabTest] = &[
    qn("2345-7", "Glucose SerPl-mCnc", "mg/dL", 70.0, 100.0, 0),
    qn("2951-2", "Sodium SerPl-sCnc", "mmol/L", 136.0, 145.0, 0),
    qn("2823-3", "Potassium SerPl-sCnc", "mmol/L", 3.5, 5.1, 1),
    qn("2075-0", "Chloride SerPl-sCnc", "mmol/L", 98.0, 107.0, 0),
    qn("2160-0", "Creat SerPl-mCnc", "mg/dL", 0.6, 1.3, 2),
    qn("3094-0", "BUN SerPl-mCnc", "mg/dL", 7.0, 20.0, 0),
    qn("17861-6", "Calcium SerPl-mCnc", "mg/dL", 8.5, 10.5, 1),
];
static CBC: &[LabTest] = &[
    qn("6690-2", "WBC # Bld Auto", "10*3/uL", 4.5, 11.0, 1),
    qn("789-8", "RBC # Bld Auto", "10*6/uL", 4.2, 5.9, 2),
    qn("718-7", "Hgb Bld-mCnc", "g/dL", 12.0, 17.5, 1),
    qn("4544-3", "Hct VFr Bld Auto", "%", 36.0, 50.0, 1),
    qn("777-3", "Platelet # Bld Auto", "10*3/uL", 150.0, 400.0, 0),
];
static LIPID: &[LabTest] = &[
    qn("2093-3", "Cholest SerPl-mCnc", "mg/dL", 0.0, 200.0, 0),
    qn("2571-8", "Trigl SerPl-mCnc", "mg/dL", 0.0, 150.0, 0),
    qn("2085-9", "HDLc SerPl-mCnc", "mg/dL", 40.0, 60.0, 0),
    qn("13457-7", "LDLc SerPl Calc-mCnc", "mg/dL", 0.0, 100.0, 0),
];
static A1C: &[LabTest] = &[qn("4548-4", "Hgb A1c MFr Bld", "%", 4.0, 5.6, 1)];
static HEPATIC: &[LabTest] = &[
    qn("1742-6", "ALT SerPl-cCnc", "U/L", 7.0, 56.0, 0),
    qn("1920-8", "AST SerPl-cCnc", "U/L", 10.0, 40.0, 0),
];
static TSH: &[LabTest] = &[qn("3016-3", "TSH SerPl-aCnc", "m[IU]/L", 0.4, 4.0, 2)];
static URATE: &[LabTest] = &[qn("3084-1", "Urate SerPl-mCnc", "mg/dL", 3.5, 7.2, 1)];
static INR: &[LabTest] = &[qn("6301-6", "INR PPP", "{INR}", 0.8, 1.2, 1)];
static BNP: &[LabTest] = &[qn("30934-4", "BNP SerPl-mCnc", "pg/mL", 0.0, 100.0, 0)];
static URINALYSIS: &[LabTest] = &[
    qn("5803-2", "pH Ur Strip", "[pH]", 5.0, 8.0, 1),
    // Specific gravity has no unit: the LOINC example unit is empty.
    qn("5811-5", "Sp Gr Ur Strip", "", 1.005, 1.030, 3),
    nar(
        "5778-6",
        "Color Ur",
        &["yellow", "straw", "amber", "Yellow"],
    ),
    nar(
        "5767-9",
        "Appearance Ur",
        &["clear", "cloudy", "clear, yellow", "hazy"],
    ),
    nar(
        "20454-5",
        "Prot Ur Ql Strip",
        &["Negative", "Trace", "1+", "2+"],
    ),
    nar(
        "5792-7",
        "Glucose Ur Strip-mCnc",
        &["Negative", "Negative", "Trace"],
    ),
    LabTest {
        loinc: "5821-4",
        name: "WBC #/area UrnS HPF",
        unit: "/[HPF]",
        scale: Scale::Text(&["0-2", "0-5", "5-10", "<1", "Few", ">20"]),
    },
];
static SMEAR: &[LabTest] = &[nar(
    "5909-7",
    "Bld smear finding",
    &[
        "Normocytic, normochromic; platelets adequate",
        "Microcytic, hypochromic RBCs",
        "Target cells & anisocytosis",
    ],
)];

impl Panel {
    pub(crate) fn tests(self) -> &'static [LabTest] {
        match self {
            Bmp => BMP,
            Cbc => CBC,
            Lipid => LIPID,
            A1c => A1C,
            Hepatic => HEPATIC,
            Tsh => TSH,
            Urate => URATE,
            Inr => INR,
            Bnp => BNP,
            Urinalysis => URINALYSIS,
            Smear => SMEAR,
        }
    }
}

// ------------------------------------------------------------ vital signs

/// One kind of vital sign: the set's property, its LOINC code and ontology
/// title, and its fixed unit.
pub(crate) struct Vital {
    pub property: &'static str,
    pub loinc: &'static str,
    pub title: &'static str,
    pub unit: &'static str,
}

pub(crate) const fn vital(
    property: &'static str,
    loinc: &'static str,
    title: &'static str,
    unit: &'static str,
) -> Vital {
    Vital {
        property,
        loinc,
        title,
        unit,
    }
}

pub(crate) static HEIGHT: Vital = vital("sp:height", "8302-2", "Body height", "cm");
pub(crate) static WEIGHT: Vital = vital("sp:weight", "3141-9", "Body weight", "kg");
pub(crate) static BMI: Vital = vital("sp:bodyMassIndex", "39156-5", "Body mass index", "kg/m2");
pub(crate) static TEMPERATURE: Vital = vital("sp:temperature", "8310-5", "Body temperature", "Cel");
pub(crate) static HEART_RATE: Vital = vital("sp:heartRate", "8867-4", "Heart rate", "{beats}/min");
pub(crate) static RESPIRATORY_RATE: Vital = vital(
    "sp:respiratoryRate",
    "9279-1",
    "Respiration rate",
    "{breaths}/min",
);
pub(crate) static OXYGEN_SATURATION: Vital = vital(
    "sp:oxygenSaturation",
    "2710-2",
    "Oxygen saturation",
    "%{HemoglobinSaturation}",
);
pub(crate) static HEAD_CIRCUMFERENCE: Vital =
    vital("sp:headCircumference", "8287-5", "Head circumference", "cm");
pub(crate) static SYSTOLIC: Vital =
    vital("sp:systolic", "8480-6", "Intravascular systolic", "mm[Hg]");
pub(crate) static DIASTOLIC: Vital = vital(
    "sp:diastolic",
    "8462-4",
    "Intravascular diastolic",
    "mm[Hg]",
);

pub(crate) static ENCOUNTER_TYPES: &[Coded] = &[
    ("ambulatory", "Ambulatory encounter"),
    ("emergency", "Emergency encounter"),
    ("field", "Field encounter"),
    ("home", "Home encounter"),
    ("inpatient", "Inpatient encounter"),
    ("virtual", "Virtual encounter"),
];
pub(crate) static BP_POSITIONS: &[Coded] = &[
    ("33586001", "Sitting"),
    ("10904000", "Standing"),
    ("40199007", "Supine"),
];
pub(crate) static BP_SITES: &[Coded] = &[
    ("368209003", "Right arm"),
    ("368208006", "Left arm"),
    ("61396006", "Left thigh"),
    ("11207009", "Right thigh"),
];
pub(crate) static BP_METHODS: &[Coded] = &[
    ("auscultation", "Auscultation"),
    ("machine", "Machine"),
    ("invasive", "Invasive"),
    ("palpation", "Palpation"),
];

// ------------------------------------------------------------ immunizations

/// A vaccine product (CVX) with its vaccine groups (0 to 2) and the
/// youngest age it is given at.
pub(crate) struct Vaccine {
    pub cvx: &'static str,
    pub title: &'static str,
    pub groups: &'static [Coded],
    pub min_age: u32,
    pub max_age: u32,
}

const fn vaccine(
    cvx: &'static str,
    title: &'static str,
    groups: &'static [Coded],
    min_age: u32,
    max_age: u32,
) -> Vaccine {
    Vaccine {
        cvx,
        title,
        groups,
        min_age,
        max_age,
    }
}

pub(crate) static VACCINES: &[Vaccine] = &[
    vaccine("141", "Flu Vaccine", &[], 0, 120),
    vaccine(
        "141",
        "Influenza, seasonal, injectable",
        &[("FLU", "INFLUENZA")],
        0,
        120,
    ),
    vaccine("115", "TdaP", &[], 10, 120),
    vaccine("33", "Pneumonia Vaccine", &[], 60, 120),
    vaccine("121", "Zostavax", &[], 60, 120),
    vaccine(
        "89",
        "poliovirus vaccine, unspecified formulation",
        &[("POLIO", "POLIO")],
        0,
        6,
    ),
    vaccine(
        "43",
        "hepatitis B vaccine, adult dosage",
        &[("HepB", "HepB")],
        18,
        120,
    ),
    vaccine(
        "21",
        "varicella virus vaccine",
        &[("VARICELLA", "VARICELLA")],
        1,
        12,
    ),
    vaccine(
        "137",
        "HPV, unspecified formulation",
        &[("HPV", "HPV")],
        9,
        26,
    ),
    vaccine(
        "136",
        "meningococcal oligosaccharide (groups A, C, Y and W-135) diphtheria toxoid conjugate vaccine (MCV4O)",
        &[("MENING", "MENING")],
        11,
        18,
    ),
    vaccine(
        "116",
        "rotavirus, live, pentavalent vaccine",
        &[("ROTAVIRUS", "ROTAVIRUS")],
        0,
        1,
    ),
    vaccine(
        "110",
        "DTaP-hepatitis B and poliovirus vaccine",
        &[("DTAP", "DTAP")],
        0,
        6,
    ),
    vaccine(
        "104",
        "hepatitis A and hepatitis B vaccine",
        &[("HepA", "HepA"), ("HepB", "HepB")],
        18,
        120,
    ),
    vaccine(
        "03",
        "measles, mumps and rubella virus vaccine",
        &[("MMR", "MMR")],
        1,
        6,
    ),
];

pub(crate) static DOSE_GIVEN: Coded = ("doseGiven", "Dose given");
pub(crate) static NOT_ADMINISTERED: Coded = ("notAdministered", "Not administered");
pub(crate) static PARTIAL_DOSE: Coded = ("partialDose", "Partial dose");
pub(crate) static REFUSAL_REASONS: &[Coded] = &[
    (
        "allergy",
        "Allergy to vaccine/vaccine components, or allergy to eggs",
    ),
    (
        "documentedImmunityOrPreviousDisease",
        "Documented immunity or previous disease",
    ),
    ("notIndicatedPerGuidelines", "Not indicated per guidelines"),
];

// ------------------------------------------------------------ procedures

pub(crate) static PROCEDURES: &[Coded] = &[
    ("384742004", "Smoking cessation assistance"),
    ("426945003", "X-ray of bone"),
    ("169961004", "Normal birth"),
    ("302497006", "Hemodialysis"),
    ("390735007", "Retinal screening"),
    ("401191002", "Diabetic foot examination"),
    (
        "401011001",
        "Peak expiratory flow rate monitoring using diary",
    ),
    (
        "10326007",
        "Coronary artery bypass with autogenous graft, three grafts",
    ),
    ("284384005", "Examination of foot"),
    ("36228007", "Ophthalmic examination and evaluation"),
    ("80146002", "Appendectomy"),
    ("73761001", "Colonoscopy"),
    ("71651007", "Mammography"),
    ("29303009", "Electrocardiographic procedure"),
    ("40701008", "Echocardiography"),
];

/// Procedures anyone may get (SNOMED codes of [`PROCEDURES`]).
pub(crate) static ROUTINE_PROCEDURES: &[&str] = &["426945003", "80146002", "73761001", "29303009"];

pub(crate) static PROCEDURE_NOTES: &[&str] = &[
    "normal",
    "normal per ophth.",
    "see report; f/u in 6 months",
    "Patient tolerated the procedure well, no complications",
    "results <pending> & discussed with patient",
];

pub(crate) static PROCEDURE_STATUSES: &[Coded] = &[
    ("385658003", "Complete"),
    ("410523001", "Active"),
    ("89925002", "Cancelled"),
    ("385657008", "Aborted"),
];

pub(crate) static PROBLEM_STATUSES: &[Coded] = &[
    ("55561003", "Active"),
    ("73425007", "Inactive"),
    ("413322009", "Resolved"),
];

// ------------------------------------------------------------ allergies

/// What an allergy is to: the allergen's property and code system, the
/// category (SNOMED, lower-case title) and the allergens.
pub(crate) struct AllergenKind {
    pub property: &'static str,
    pub system: System,
    pub category: Coded,
    pub allergens: &'static [Coded],
}

pub(crate) static ALLERGEN_KINDS: &[AllergenKind] = &[
    AllergenKind {
        property: "sp:drugClassAllergen",
        system: NDFRT,
        category: ("416098002", "drug allergy"),
        allergens: &[
            ("N0000175503", "sulfonamide antibacterial"),
            ("N0000175503", "Sulfa drugs"),
        ],
    },
    AllergenKind {
        property: "sp:drugAllergen",
        system: RXNORM_INGREDIENT,
        category: ("416098002", "drug allergy"),
        allergens: &[
            ("723", "amoxicillin"),
            ("7980", "Penicillin G"),
            ("2670", "Codeine"),
            ("29046", "lisinopril 20mg"),
            ("2551", "Ciprfloxacin"),
        ],
    },
    AllergenKind {
        property: "sp:drugAllergen",
        system: RXNORM_INGREDIENT,
        category: ("59037007", "drug intolerance"),
        allergens: &[("1191", "Aspirin"), ("5640", "ibuprofen")],
    },
    AllergenKind {
        property: "sp:otherAllergen",
        system: UNII,
        category: ("414285001", "food allergy"),
        allergens: &[("QE1QX6B99R", "peanut"), ("QE1QX6B99R", "Peanuts")],
    },
    AllergenKind {
        property: "sp:otherAllergen",
        system: UNII,
        category: ("235719002", "food intolerance"),
        allergens: &[("QE1QX6B99R", "peanut butter")],
    },
    AllergenKind {
        property: "sp:otherAllergen",
        system: UNII,
        category: ("426232007", "environmental allergy"),
        allergens: &[("QE1QX6B99R", "peanut dust")],
    },
];

pub(crate) static REACTIONS: &[Coded] = &[
    ("271807003", "skin rash"),
    ("39579001", "Anaphylaxis"),
    ("247472004", "Hives"),
    ("422587007", "Nausea"),
    ("418290006", "Pruritic rash "),
    ("267036007", "Dyspnea"),
];

pub(crate) static SEVERITIES: &[Coded] = &[
    ("255604002", "mild"),
    ("255604002", "mild"),
    ("6736007", "moderate"),
    ("24484000", "severe"),
    ("442452003", "life threatening"),
];

pub(crate) static NO_KNOWN_ALLERGIES: Coded = ("160244002", "No known allergies");
/// Narrower exclusions, each compatible with allergies of other kinds.
pub(crate) static NARROW_EXCLUSIONS: &[Coded] = &[
    ("409137002", "No known history of drug allergy"),
    ("428607008", "No known environmental allergy"),
    ("429625007", "No known food allergy"),
];

// ------------------------------------------------------------ people

pub(crate) static MALE_NAMES: &[&str] = &[
    "Kevin", "James", "John", "Robert", "Michael", "David", "William", "Richard", "Joseph",
    "Thomas", "Charles", "Daniel", "Matthew", "Anthony", "José", "Luis", "Wei", "Ahmed", "Jürgen",
    "Seán",
];
pub(crate) static FEMALE_NAMES: &[&str] = &[
    "Susan",
    "Mary",
    "Patricia",
    "Jennifer",
    "Linda",
    "Elizabeth",
    "Barbara",
    "Jessica",
    "Sarah",
    "Karen",
    "Nancy",
    "Lisa",
    "Betty",
    "Margaret",
    "María",
    "Zoë",
    "Mei",
    "Fatima",
    "Ingrid",
    "Siobhán",
];
pub(crate) static FAMILY_NAMES: &[&str] = &[
    "Lee",
    "Williams",
    "Clark",
    "Smith",
    "Johnson",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernández",
    "O'Brien",
    "Nguyen",
    "Müller",
    "Wilson",
    "Anderson",
    "Taylor",
    "Moore",
    "Jackson",
    "White",
    "Harris",
    "Thompson",
    "Young",
    "King",
    "Wright",
    "Lopez",
    "Hill",
    "Scott",
];
pub(crate) static STREETS: &[&str] = &[
    "Mill St",
    "South Ave",
    "Highland St",
    "Main St",
    "Oak Rd",
    "Elm St",
    "Maple Ave",
    "Park Pl",
    "Washington Blvd",
    "Lake Shore Dr",
    "Church St",
    "River Rd",
];
/// (city, region, first three digits of the postal code).
pub(crate) static TOWNS: &[(&str, &str, &str)] = &[
    ("Sand Springs", "OK", "740"),
    ("Tulsa", "OK", "741"),
    ("Boston", "MA", "021"),
    ("Cambridge", "MA", "021"),
    ("Springfield", "IL", "627"),
    ("Austin", "TX", "787"),
    ("Portland", "OR", "972"),
    ("Denver", "CO", "802"),
    ("Coeur d'Alene", "ID", "838"),
    ("Winston-Salem", "NC", "271"),
];

// ------------------------------------------------------------ drugs

/// One row of the drug table: a real RxNorm semantic clinical or branded
/// drug (TTY SCD/SBD) with its normalized name, plus the dosage form for the
/// quantity unit and a few display-name variants (local, brand or free-text
/// names as EHRs send them; some with non-ASCII letters, commas, quotes,
/// `&` and `<`).
pub(crate) struct Drug {
    pub rxcui: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub variants: &'static [&'static str],
}

const TAB: &str = "{tablet}";
const CAP: &str = "{capsule}";

/// The drug table: facts from RxNorm (code and normalized name).
pub(crate) static DRUGS: &[Drug] = &[
    Drug {
        rxcui: "312938",
        name: "Sertraline 100 MG Oral Tablet",
        unit: TAB,
        variants: &["Sertralin 100 mg Filmtablette (Zoloft®)"],
    },
    Drug {
        rxcui: "312940",
        name: "Sertraline 50 MG Oral Tablet",
        unit: TAB,
        variants: &["sertraline 50mg \"Zoloft\""],
    },
    Drug {
        rxcui: "309309",
        name: "Ciprofloxacin 500 MG Oral Tablet",
        unit: TAB,
        variants: &["Ciprofloxacino 500 mg, comprimido"],
    },
    Drug {
        rxcui: "617318",
        name: "atorvastatin 20 MG Oral Tablet [Lipitor]",
        unit: TAB,
        variants: &["Lipitor 20 mg — atorvastatin calcium"],
    },
    Drug {
        rxcui: "259255",
        name: "atorvastatin 80 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197319",
        name: "Allopurinol 100 MG Oral Tablet",
        unit: TAB,
        variants: &["Allopurinol 100 mg <generic>"],
    },
    Drug {
        rxcui: "197320",
        name: "Allopurinol 300 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197361",
        name: "Amlodipine 5 MG Oral Tablet",
        unit: TAB,
        variants: &["Amlodipin 5 mg Tablette, Besilat"],
    },
    Drug {
        rxcui: "308135",
        name: "Amlodipine 10 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "861007",
        name: "Metformin hydrochloride 500 MG Oral Tablet",
        unit: TAB,
        variants: &["Metformine 500 mg comprimé", "Metformin 500 MG Oral Tablet"],
    },
    Drug {
        rxcui: "314076",
        name: "Lisinopril 10 MG Oral Tablet",
        unit: TAB,
        variants: &["Lisinopril 10 MG Oral Tablet \"Zestril\""],
    },
    Drug {
        rxcui: "314077",
        name: "Lisinopril 20 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "311354",
        name: "Lisinopril 5 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "310798",
        name: "Hydrochlorothiazide 25 MG Oral Tablet",
        unit: TAB,
        variants: &["HCTZ 25 mg & potassium check"],
    },
    Drug {
        rxcui: "199903",
        name: "Hydrochlorothiazide 12.5 MG Oral Capsule",
        unit: CAP,
        variants: &[],
    },
    Drug {
        rxcui: "198211",
        name: "Simvastatin 40 MG Oral Tablet",
        unit: TAB,
        variants: &["Simvastatina 40 mg, comprimidos recubiertos"],
    },
    Drug {
        rxcui: "312961",
        name: "Simvastatin 20 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197381",
        name: "Atenolol 50 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197380",
        name: "Atenolol 25 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "866924",
        name: "Metoprolol Tartrate 25 MG Oral Tablet",
        unit: TAB,
        variants: &["Metoprolol 25 MG Oral Tablet"],
    },
    Drug {
        rxcui: "866514",
        name: "Metoprolol Tartrate 50 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "310965",
        name: "Ibuprofen 200 MG Oral Tablet",
        unit: TAB,
        variants: &[
            "Ибупрофен 200 мг таблетки",
            "Ibuprofen 200 MG Oral Tablet, film-coated",
        ],
    },
    Drug {
        rxcui: "197806",
        name: "Ibuprofen 600 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "313782",
        name: "Acetaminophen 325 MG Oral Tablet",
        unit: TAB,
        variants: &["Acetaminophen 325 MG \"Tylenol\" <OTC>"],
    },
    Drug {
        rxcui: "198440",
        name: "Acetaminophen 500 MG Oral Tablet",
        unit: TAB,
        variants: &["Paracétamol 500 mg, comprimé"],
    },
    Drug {
        rxcui: "308182",
        name: "Amoxicillin 250 MG Oral Capsule",
        unit: CAP,
        variants: &[],
    },
    Drug {
        rxcui: "308191",
        name: "Amoxicillin 500 MG Oral Capsule",
        unit: CAP,
        variants: &["Amoxicilline 500 mg gélule"],
    },
    Drug {
        rxcui: "562251",
        name: "Amoxicillin 875 MG / Clavulanate 125 MG Oral Tablet",
        unit: TAB,
        variants: &["Amoxicillin & Clavulanate 875/125 <Augmentin>"],
    },
    Drug {
        rxcui: "198145",
        name: "Prednisone 10 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "312617",
        name: "Prednisone 5 MG Oral Tablet",
        unit: TAB,
        variants: &["Prednison 5 mg, taper \"as directed\""],
    },
    Drug {
        rxcui: "310429",
        name: "Furosemide 20 MG Oral Tablet",
        unit: TAB,
        variants: &["Furosemid 20 mg <Lasix>"],
    },
    Drug {
        rxcui: "855332",
        name: "Warfarin Sodium 5 MG Oral Tablet",
        unit: TAB,
        variants: &["Warfarin 5 mg [Coumadin] & INR monitoring"],
    },
    Drug {
        rxcui: "310385",
        name: "Fluoxetine 20 MG Oral Capsule",
        unit: CAP,
        variants: &["Fluoxétine 20 mg gélule"],
    },
    Drug {
        rxcui: "309362",
        name: "Clopidogrel 75 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "243670",
        name: "Aspirin 81 MG Oral Tablet",
        unit: TAB,
        variants: &["Aspirin 81 mg \"baby aspirin\", chewable"],
    },
    Drug {
        rxcui: "308460",
        name: "Azithromycin 250 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197591",
        name: "Diazepam 5 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "308047",
        name: "Alprazolam 0.25 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "352272",
        name: "Escitalopram 10 MG Oral Tablet [Lexapro]",
        unit: TAB,
        variants: &["Escitalopram 10 mg (Lexapro®)"],
    },
    Drug {
        rxcui: "310325",
        name: "Ferrous Sulfate 325 MG Oral Tablet",
        unit: TAB,
        variants: &["Eisen(II)-sulfat 325 mg"],
    },
];

/// Free-text sigs, some with commas, double quotes, `&` and `<`.
pub(crate) static INSTRUCTIONS: &[&str] = &[
    "1 daily",
    "1 bid",
    "1 qhs",
    "1 tid prn",
    "take 1 tablet by mouth twice daily, with food",
    "2 tablets \"as needed\" for pain, max 6/day",
    "1/2 tablet daily",
    "1 q4-6h prn pain & fever",
    "as directed; see \"patient leaflet\"",
    "take with water, < 1 h before breakfast",
    "1 tab po qd",
    "Einmal täglich, morgens",
];

pub(crate) static QUANTITIES: &[&str] = &["1", "1", "1", "2", "0.5", "1.5"];
pub(crate) static FREQUENCIES: &[(&str, &str)] = &[
    ("1", "/d"),
    ("1", "/d"),
    ("2", "/d"),
    ("3", "/d"),
    ("1", "/wk"),
    ("1", "/mo"),
];
pub(crate) static DAYS_SUPPLY: &[u32] = &[30, 30, 90, 14, 7];

/// The drug of an RxCUI in [`DRUGS`].
pub(crate) fn drug(rxcui: &str) -> Option<&'static Drug> {
    DRUGS.iter().find(|d| d.rxcui == rxcui)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn condition_drugs_and_procedures_are_in_the_tables() {
        for c in CONDITIONS {
            for rxcui in c.drugs {
                assert!(drug(rxcui).is_some(), "{} names {rxcui}", c.name);
            }
            for p in c.procedures {
                assert!(
                    PROCEDURES.iter().any(|(code, _)| code == p),
                    "{} names {p}",
                    c.name
                );
            }
        }
        for p in ROUTINE_PROCEDURES {
            assert!(PROCEDURES.iter().any(|(code, _)| code == p));
        }
    }
}
