//! Rendering compiled nodes against an event. Only walks and clones `serde_json::Value`s; all
//! parsing happened in `compile`.

use std::fmt::Write;

use serde_json::{Map, Value};

use super::compile::Node;
use super::expr::{Alt, Expr, Piece, Segment};

pub(super) fn claims(claims: &[(String, Node)], event: &Value) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, node) in claims {
        // A null claim is never useful to a relying party, so null and missing look the same.
        if let Some(v) = render(node, event).filter(|v| !v.is_null()) {
            out.insert(name.clone(), v);
        }
    }
    out
}

/// `None` means "leave this out" (an expression resolved to nothing).
fn render(node: &Node, event: &Value) -> Option<Value> {
    match node {
        Node::Const(v) => Some(v.clone()),
        Node::Whole(e) => resolve(e, event).cloned(),
        Node::Interp(pieces) => {
            let mut s = String::new();
            for piece in pieces {
                match piece {
                    Piece::Text(t) => s.push_str(t),
                    Piece::Expr(e) => match resolve(e, event)? {
                        Value::String(v) => s.push_str(v),
                        // Writing to a String cannot fail.
                        other => {
                            let _ = write!(s, "{other}");
                        }
                    },
                }
            }
            Some(Value::String(s))
        }
        Node::Object(members) => {
            let m = members
                .iter()
                .filter_map(|(k, n)| Some((k.clone(), render(n, event)?)));
            Some(Value::Object(m.collect()))
        }
        Node::Array(items) => {
            let a = items.iter().filter_map(|n| render(n, event));
            Some(Value::Array(a.collect()))
        }
    }
}

/// The first alternative with a non-null value.
fn resolve<'a>(e: &'a Expr, event: &'a Value) -> Option<&'a Value> {
    e.alts.iter().find_map(|alt| match alt {
        Alt::Literal(v) => Some(v),
        Alt::Path(path) => walk(event, path).filter(|v| !v.is_null()),
    })
}

fn walk<'a>(event: &'a Value, path: &[Segment]) -> Option<&'a Value> {
    path.iter().try_fold(event, |cur, seg| match cur {
        Value::Object(m) => m.get(&*seg.key),
        Value::Array(a) => seg.index.and_then(|i| a.get(i)),
        _ => None,
    })
}
