//! Which predicates can a query match? When every triple pattern and
//! property path of the query (EXISTS filters included) names its predicates
//! as constants, triples with any other predicate cannot contribute to a
//! solution, so the graph never stores them. A variable predicate, a negated
//! property set or a SERVICE call means "all of them" (`None`).

use spargebra::algebra::{
    AggregateExpression, Expression, GraphPattern, OrderExpression, PropertyPathExpression,
};
use spargebra::term::NamedNodePattern;
use std::collections::HashSet;

/// Adds the pattern's predicates to `set`; `None` when they are not all
/// constants.
#[allow(unreachable_patterns)] // `Lateral` exists only with spargebra's sep-0006
pub(crate) fn collect_pattern(p: &GraphPattern, set: &mut HashSet<String>) -> Option<()> {
    match p {
        GraphPattern::Bgp { patterns } => {
            for t in patterns {
                match &t.predicate {
                    NamedNodePattern::NamedNode(n) => {
                        set.insert(n.as_str().to_owned());
                    }
                    NamedNodePattern::Variable(_) => return None,
                }
            }
            Some(())
        }
        GraphPattern::Path { path, .. } => collect_path(path, set),
        GraphPattern::Join { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right } => {
            collect_pattern(left, set)?;
            collect_pattern(right, set)
        }
        GraphPattern::LeftJoin {
            left,
            right,
            expression,
        } => {
            collect_pattern(left, set)?;
            collect_pattern(right, set)?;
            expression
                .as_ref()
                .map_or(Some(()), |e| collect_expr(e, set))
        }
        GraphPattern::Filter { expr, inner } => {
            collect_expr(expr, set)?;
            collect_pattern(inner, set)
        }
        GraphPattern::Extend {
            inner, expression, ..
        } => {
            collect_expr(expression, set)?;
            collect_pattern(inner, set)
        }
        GraphPattern::OrderBy { inner, expression } => {
            for e in expression {
                match e {
                    OrderExpression::Asc(e) | OrderExpression::Desc(e) => collect_expr(e, set)?,
                }
            }
            collect_pattern(inner, set)
        }
        GraphPattern::Group {
            inner, aggregates, ..
        } => {
            for (_, a) in aggregates {
                if let AggregateExpression::FunctionCall { expr, .. } = a {
                    collect_expr(expr, set)?;
                }
            }
            collect_pattern(inner, set)
        }
        GraphPattern::Graph { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => collect_pattern(inner, set),
        GraphPattern::Values { .. } => Some(()),
        // SERVICE, and anything a newer spargebra adds: keep every triple.
        _ => None,
    }
}

/// Whether the pattern calls a SERVICE (there is no federation per record).
#[allow(unreachable_patterns)] // `Lateral` exists only with spargebra's sep-0006
pub(crate) fn has_service(p: &GraphPattern) -> bool {
    match p {
        GraphPattern::Service { .. } => true,
        GraphPattern::Join { left, right }
        | GraphPattern::Union { left, right }
        | GraphPattern::Minus { left, right }
        | GraphPattern::LeftJoin { left, right, .. } => has_service(left) || has_service(right),
        GraphPattern::Filter { inner, .. }
        | GraphPattern::Extend { inner, .. }
        | GraphPattern::OrderBy { inner, .. }
        | GraphPattern::Group { inner, .. }
        | GraphPattern::Graph { inner, .. }
        | GraphPattern::Project { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Slice { inner, .. } => has_service(inner),
        _ => false,
    }
}

fn collect_path(p: &PropertyPathExpression, set: &mut HashSet<String>) -> Option<()> {
    match p {
        PropertyPathExpression::NamedNode(n) => {
            set.insert(n.as_str().to_owned());
            Some(())
        }
        PropertyPathExpression::Reverse(p)
        | PropertyPathExpression::ZeroOrMore(p)
        | PropertyPathExpression::OneOrMore(p)
        | PropertyPathExpression::ZeroOrOne(p) => collect_path(p, set),
        PropertyPathExpression::Sequence(a, b) | PropertyPathExpression::Alternative(a, b) => {
            collect_path(a, set)?;
            collect_path(b, set)
        }
        PropertyPathExpression::NegatedPropertySet(_) => None,
    }
}

#[allow(unreachable_patterns)] // future spargebra variants (e.g. SPARQL 1.2)
fn collect_expr(e: &Expression, set: &mut HashSet<String>) -> Option<()> {
    match e {
        Expression::NamedNode(_)
        | Expression::Literal(_)
        | Expression::Variable(_)
        | Expression::Bound(_) => Some(()),
        Expression::Exists(p) => collect_pattern(p, set),
        Expression::Or(a, b)
        | Expression::And(a, b)
        | Expression::Equal(a, b)
        | Expression::SameTerm(a, b)
        | Expression::Greater(a, b)
        | Expression::GreaterOrEqual(a, b)
        | Expression::Less(a, b)
        | Expression::LessOrEqual(a, b)
        | Expression::Add(a, b)
        | Expression::Subtract(a, b)
        | Expression::Multiply(a, b)
        | Expression::Divide(a, b) => {
            collect_expr(a, set)?;
            collect_expr(b, set)
        }
        Expression::UnaryPlus(a) | Expression::UnaryMinus(a) | Expression::Not(a) => {
            collect_expr(a, set)
        }
        Expression::In(a, list) => {
            collect_expr(a, set)?;
            list.iter().try_for_each(|e| collect_expr(e, set))
        }
        Expression::If(a, b, c) => {
            collect_expr(a, set)?;
            collect_expr(b, set)?;
            collect_expr(c, set)
        }
        Expression::Coalesce(list) | Expression::FunctionCall(_, list) => {
            list.iter().try_for_each(|e| collect_expr(e, set))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use spargebra::{Query, SparqlParser};

    fn preds(q: &str) -> Option<Vec<String>> {
        let Ok(Query::Select { pattern, .. }) = SparqlParser::new().parse_query(q) else {
            panic!("not a select: {q}");
        };
        let mut set = HashSet::new();
        collect_pattern(&pattern, &mut set)?;
        let mut v: Vec<String> = set.into_iter().collect();
        v.sort();
        Some(v)
    }

    #[test]
    fn constant_predicates_are_collected_everywhere() {
        assert_eq!(
            preds(
                "SELECT ?a WHERE { ?a <http://x/p> ?b OPTIONAL { ?b <http://x/q>/^<http://x/r> ?c } \
                 FILTER NOT EXISTS { ?a <http://x/s>* ?d } } ORDER BY ?a"
            ),
            Some(vec![
                "http://x/p".to_owned(),
                "http://x/q".to_owned(),
                "http://x/r".to_owned(),
                "http://x/s".to_owned()
            ])
        );
        assert_eq!(
            preds(
                "SELECT (COUNT(?a) AS ?n) WHERE { { ?a <http://x/p> 1 } UNION { VALUES ?a { 1 } } }"
            ),
            Some(vec!["http://x/p".to_owned()])
        );
    }

    #[test]
    fn service_is_found() {
        let q = "SELECT * WHERE { ?a <http://x/p> ?b OPTIONAL { SERVICE <http://x/sparql> { ?b ?q ?c } } }";
        let Ok(Query::Select { pattern, .. }) = SparqlParser::new().parse_query(q) else {
            panic!("not a select");
        };
        assert!(has_service(&pattern));
    }

    #[test]
    fn variable_or_negated_predicates_keep_everything() {
        assert_eq!(preds("SELECT * WHERE { ?a ?p ?b }"), None);
        assert_eq!(preds("SELECT * WHERE { ?a !<http://x/p> ?b }"), None);
        assert_eq!(
            preds("SELECT * WHERE { ?a <http://x/p> ?b FILTER EXISTS { ?a ?q ?c } }"),
            None
        );
    }
}
