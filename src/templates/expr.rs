//! Splitting one template string into literal text and `{{ ... }}` expressions.
//!
//! Works on a `char` slice so offsets in errors are character offsets (what an editor shows),
//! and uses `get` everywhere so no input can index out of bounds.

use serde_json::{Number, Value};

use crate::fields::{is_template_name_char, is_template_name_start};

/// One dot-separated step of a path.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Segment {
    pub key: Box<str>,
    /// Pre-parsed array index, so rendering never re-parses digits.
    pub index: Option<usize>,
    /// Character offset in the source string, kept only for error messages.
    pub at: usize,
}

/// One `||`-separated alternative.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Alt {
    Path(Vec<Segment>),
    Literal(Value),
}

/// A parsed `{{ ... }}`; alternatives are tried in order.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Expr {
    pub alts: Vec<Alt>,
    /// Character offset of the opening `{{`.
    pub at: usize,
}

/// A run of a template string.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Piece {
    Text(String),
    Expr(Expr),
}

/// A syntax error at a character offset.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct SyntaxError {
    pub offset: usize,
    pub message: String,
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        offset,
        message: message.into(),
    })
}

/// Splits `s` into pieces. `\{{` yields a literal `{{`; a `}}` outside an expression is text.
pub(super) fn parse(s: &str) -> Result<Vec<Piece>, SyntaxError> {
    let chars: Vec<char> = s.chars().collect();
    let mut p = Parser {
        chars: &chars,
        i: 0,
    };
    let mut pieces = Vec::new();
    let mut text = String::new();
    while let Some(c) = p.peek() {
        if c == '\\' && p.at(1) == Some('{') && p.at(2) == Some('{') {
            text.push_str("{{");
            p.i += 3;
        } else if c == '{' && p.at(1) == Some('{') {
            if !text.is_empty() {
                pieces.push(Piece::Text(std::mem::take(&mut text)));
            }
            pieces.push(Piece::Expr(p.expr()?));
        } else {
            text.push(c);
            p.i += 1;
        }
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    Ok(pieces)
}

struct Parser<'a> {
    chars: &'a [char],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.at(0)
    }

    fn at(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.i.saturating_add(ahead)).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.i += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(char) -> bool) -> String {
        let mut out = String::new();
        while let Some(c) = self.peek().filter(|&c| f(c)) {
            out.push(c);
            self.i += 1;
        }
        out
    }

    /// Parses from an opening `{{` through its closing `}}`.
    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        let start = self.i;
        self.i += 2;
        let mut alts: Vec<Alt> = Vec::new();
        loop {
            self.skip_ws();
            let alt_at = self.i;
            match (self.peek(), self.at(1)) {
                (None, _) => return err(start, "unclosed `{{`"),
                (Some('}'), Some('}')) if alts.is_empty() => {
                    return err(start, "empty expression");
                }
                (Some('}'), _) => return err(alt_at, "expected a path or a literal after `||`"),
                _ => {}
            }
            if matches!(alts.last(), Some(Alt::Literal(_))) {
                return err(
                    alt_at,
                    "a literal always has a value, so no alternative may follow it",
                );
            }
            alts.push(self.alt()?);
            self.skip_ws();
            match (self.peek(), self.at(1)) {
                (Some('|'), Some('|')) => self.i += 2,
                (Some('}'), Some('}')) => {
                    self.i += 2;
                    return Ok(Expr { alts, at: start });
                }
                (None, _) => return err(start, "unclosed `{{`"),
                (Some(c), _) => {
                    return err(self.i, format!("expected `||` or `}}}}`, found `{c}`"));
                }
            }
        }
    }

    fn alt(&mut self) -> Result<Alt, SyntaxError> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q),
            Some(c) if c == '-' || c.is_ascii_digit() => self.number(),
            Some(c) if is_template_name_start(c) => {
                let path = self.path()?;
                if let [only] = path.as_slice() {
                    match &*only.key {
                        "true" => return Ok(Alt::Literal(Value::Bool(true))),
                        "false" => return Ok(Alt::Literal(Value::Bool(false))),
                        _ => {}
                    }
                }
                Ok(Alt::Path(path))
            }
            Some(c) => err(self.i, format!("expected a path or a literal, found `{c}`")),
            None => err(self.i, "expected a path or a literal"),
        }
    }

    fn path(&mut self) -> Result<Vec<Segment>, SyntaxError> {
        let mut segments = Vec::new();
        loop {
            let at = self.i;
            let key = match self.peek() {
                Some(c) if is_template_name_start(c) => self.take_while(is_template_name_char),
                Some(c) if c.is_ascii_digit() && !segments.is_empty() => {
                    let digits = self.take_while(|c| c.is_ascii_digit());
                    if self.peek().is_some_and(is_template_name_char) {
                        return err(
                            at,
                            "a path segment is a name (letter or `_` first) or an index (digits only)",
                        );
                    }
                    digits
                }
                _ => return err(at, "expected a field name after `.`"),
            };
            let canonical = key == "0" || !key.starts_with('0');
            let index = if canonical { key.parse().ok() } else { None };
            segments.push(Segment {
                key: key.into(),
                index,
                at,
            });
            if self.peek() != Some('.') {
                return Ok(segments);
            }
            self.i += 1;
        }
    }

    fn quoted(&mut self, quote: char) -> Result<Alt, SyntaxError> {
        let open = self.i;
        self.i += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => return err(open, "unterminated string literal"),
                Some('\\') => match self.at(1) {
                    Some(c @ ('\'' | '"' | '\\')) => {
                        out.push(c);
                        self.i += 2;
                    }
                    Some(c) => {
                        return err(
                            self.i,
                            format!("unknown escape `\\{c}`; use `\\'`, `\\\"` or `\\\\`"),
                        );
                    }
                    None => return err(open, "unterminated string literal"),
                },
                Some(c) if c == quote => {
                    self.i += 1;
                    return Ok(Alt::Literal(Value::String(out)));
                }
                Some(c) => {
                    out.push(c);
                    self.i += 1;
                }
            }
        }
    }

    fn number(&mut self) -> Result<Alt, SyntaxError> {
        let start = self.i;
        let mut lexeme = String::new();
        if self.peek() == Some('-') {
            lexeme.push('-');
            self.i += 1;
        }
        lexeme.push_str(&self.take_while(|c| c.is_ascii_digit()));
        if self.peek() == Some('.') && self.at(1).is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
            lexeme.push('.');
            lexeme.push_str(&self.take_while(|c| c.is_ascii_digit()));
        }
        if let Some(e @ ('e' | 'E')) = self.peek() {
            self.i += 1;
            lexeme.push(e);
            if let Some(sign @ ('+' | '-')) = self.peek() {
                self.i += 1;
                lexeme.push(sign);
            }
            lexeme.push_str(&self.take_while(|c| c.is_ascii_digit()));
        }
        // serde_json's own grammar rejects leading zeros, a bare `-` and out-of-range floats.
        match serde_json::from_str::<Number>(&lexeme) {
            Ok(n) => Ok(Alt::Literal(Value::Number(n))),
            Err(_) => err(start, format!("invalid number `{lexeme}`")),
        }
    }
}
