//! Walking a template's JSON once, enforcing the limits and turning every string into
//! pre-parsed pieces so rendering does no parsing at all.

use std::io;

use serde_json::{Map, Value};

use super::expr::{self, Alt, Expr, Piece};
use super::{ErrorKind, Limits, TemplateError, schema};
use sigil_hooks::claims::{PROFILE_CLAIMS, restricted_in};

/// More errors than this are rarely read and would let a hostile template make us build a
/// huge error list.
pub(super) const MAX_ERRORS: usize = 20;

/// A compiled template value.
#[derive(Debug, Clone)]
pub(super) enum Node {
    /// Contains no expressions: copied as is.
    Const(Value),
    /// A string that is exactly one expression: keeps the resolved value's JSON type.
    Whole(Expr),
    /// Text with embedded expressions: always renders to a string.
    Interp(Vec<Piece>),
    Object(Vec<(String, Node)>),
    Array(Vec<Node>),
}

/// Compiles a template or returns its errors in document order.
pub(super) fn compile(
    template: &Value,
    restricted: &[&str],
    limits: &Limits,
) -> Result<Vec<(String, Node)>, Vec<TemplateError>> {
    let Some(claims) = template.as_object() else {
        return Err(vec![error(
            String::new(),
            0,
            ErrorKind::NotAnObject,
            "a template must be a JSON object whose keys are claim names".into(),
        )]);
    };
    // Serializing an over-deep value could exhaust the stack, so size is only measured once
    // depth is known to be bounded; the walk below reports the depth error itself.
    if !deeper_than(template, limits.max_depth) && too_large(template, limits.max_bytes) {
        let msg = format!("template is larger than {} bytes", limits.max_bytes);
        return Err(vec![error(String::new(), 0, ErrorKind::TooLarge, msg)]);
    }
    if limits.max_depth == 0 {
        let msg = "nesting is deeper than 0 levels".to_owned();
        return Err(vec![error(String::new(), 0, ErrorKind::TooDeep, msg)]);
    }
    let mut c = Compiler {
        restricted,
        limits,
        errors: Vec::new(),
        expressions: 0,
        pointer: String::new(),
    };
    let out = c.members(claims, 1, true);
    if c.errors.is_empty() {
        Ok(out)
    } else {
        Err(c.errors)
    }
}

fn error(pointer: String, offset: usize, kind: ErrorKind, message: String) -> TemplateError {
    TemplateError {
        pointer,
        offset,
        kind,
        message,
    }
}

/// Whether containers nest more than `limit` levels; recursion is bounded by `limit`.
fn deeper_than(v: &Value, limit: usize) -> bool {
    let Some(rest) = limit.checked_sub(1) else {
        return matches!(v, Value::Object(_) | Value::Array(_));
    };
    match v {
        Value::Object(m) => m.values().any(|c| deeper_than(c, rest)),
        Value::Array(a) => a.iter().any(|c| deeper_than(c, rest)),
        _ => false,
    }
}

/// A writer that fails once its budget is spent, so measuring stops early on huge input.
struct Budget(usize);

impl io::Write for Budget {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 = self
            .0
            .checked_sub(buf.len())
            .ok_or_else(|| io::Error::other("over budget"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn too_large(v: &Value, max_bytes: usize) -> bool {
    serde_json::to_writer(&mut Budget(max_bytes), v).is_err()
}

struct Compiler<'a> {
    restricted: &'a [&'a str],
    limits: &'a Limits,
    errors: Vec<TemplateError>,
    expressions: usize,
    /// JSON pointer of the value being compiled; pushed and truncated while walking.
    pointer: String,
}

impl Compiler<'_> {
    fn report(&mut self, offset: usize, kind: ErrorKind, message: String) {
        if self.errors.len() < MAX_ERRORS {
            let e = error(self.pointer.clone(), offset, kind, message);
            self.errors.push(e);
        }
    }

    fn full(&self) -> bool {
        self.errors.len() >= MAX_ERRORS
    }

    /// Compiles object members; `depth` is the nesting level of the object itself.
    fn members(&mut self, m: &Map<String, Value>, depth: usize, top: bool) -> Vec<(String, Node)> {
        let mut out = Vec::with_capacity(m.len());
        for (key, value) in m {
            if self.full() {
                break;
            }
            let len = self.pointer.len();
            self.pointer.push('/');
            self.pointer
                .push_str(&key.replace('~', "~0").replace('/', "~1"));
            // The hooks' rule (sigil_hooks::claims): names match canonically, and a name
            // with control characters or NUL is refused.
            if top {
                let refusal = if key.chars().any(char::is_control) {
                    Some("claim names may not contain control characters or NUL".to_string())
                } else {
                    restricted_in(self.restricted, key).map(|r| {
                        if PROFILE_CLAIMS.contains(&r) {
                            format!("`{r}` comes from the user profile and cannot be templated")
                        } else {
                            format!("`{r}` is set by the server and cannot be templated")
                        }
                    })
                };
                if let Some(msg) = refusal {
                    self.report(0, ErrorKind::RestrictedClaim, msg);
                }
            }
            out.push((key.clone(), self.node(value, depth + 1)));
            self.pointer.truncate(len);
        }
        out
    }

    /// Compiles one value; `depth` is the level it would occupy if it is a container.
    fn node(&mut self, v: &Value, depth: usize) -> Node {
        let container = matches!(v, Value::Object(_) | Value::Array(_));
        if container && depth > self.limits.max_depth {
            let msg = format!("nesting is deeper than {} levels", self.limits.max_depth);
            self.report(0, ErrorKind::TooDeep, msg);
            return Node::Const(Value::Null);
        }
        match v {
            Value::String(s) => self.string(s),
            Value::Object(m) => {
                let members = self.members(m, depth, false);
                if members.iter().all(|(_, n)| matches!(n, Node::Const(_))) {
                    let m = members.into_iter().filter_map(|(k, n)| match n {
                        Node::Const(v) => Some((k, v)),
                        _ => None,
                    });
                    Node::Const(Value::Object(m.collect()))
                } else {
                    Node::Object(members)
                }
            }
            Value::Array(a) => {
                let mut items = Vec::with_capacity(a.len());
                for (i, item) in a.iter().enumerate() {
                    if self.full() {
                        break;
                    }
                    let len = self.pointer.len();
                    self.pointer.push('/');
                    self.pointer.push_str(&i.to_string());
                    items.push(self.node(item, depth + 1));
                    self.pointer.truncate(len);
                }
                if items.iter().all(|n| matches!(n, Node::Const(_))) {
                    let items = items.into_iter().filter_map(|n| match n {
                        Node::Const(v) => Some(v),
                        _ => None,
                    });
                    Node::Const(Value::Array(items.collect()))
                } else {
                    Node::Array(items)
                }
            }
            other => Node::Const(other.clone()),
        }
    }

    fn string(&mut self, s: &str) -> Node {
        if !s.contains("{{") {
            return Node::Const(Value::String(s.to_owned()));
        }
        let pieces = match expr::parse(s) {
            Ok(pieces) => pieces,
            Err(e) => {
                self.report(e.offset, ErrorKind::Syntax, e.message);
                return Node::Const(Value::Null);
            }
        };
        for piece in &pieces {
            let Piece::Expr(e) = piece else { continue };
            self.expressions += 1;
            if self.expressions == self.limits.max_expressions.saturating_add(1) {
                let msg = format!(
                    "more than {} expressions in the template",
                    self.limits.max_expressions
                );
                self.report(e.at, ErrorKind::TooManyExpressions, msg);
            }
            for alt in &e.alts {
                if let Alt::Path(path) = alt
                    && let Err((offset, kind, msg)) = schema::check(path)
                {
                    self.report(offset, kind, msg);
                }
            }
        }
        match pieces.as_slice() {
            [] => Node::Const(Value::String(String::new())),
            [Piece::Text(t)] => Node::Const(Value::String(t.clone())),
            [Piece::Expr(e)] => Node::Whole(e.clone()),
            _ => Node::Interp(pieces),
        }
    }
}
