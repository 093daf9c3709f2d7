//! Genotypes as the DARTS family publishes them: Python literals such as
//! `Genotype(normal=[('sep_conv_3x3', 0), …], normal_concat=[2, 3, 4, 5], reduce=…,
//! reduce_concat=range(2, 6))` in a `genotypes.py`. Read strictly (keyword or positional fields
//! of the namedtuple, lists or `range(a, b)` for the concats, comments, trailing commas) and
//! written in the same form.

use super::{Edge, Genotype, GenotypeError};

/// The fields of DARTS's `Genotype` namedtuple, in order.
const FIELDS: [&str; 4] = ["normal", "normal_concat", "reduce", "reduce_concat"];

/// A value of the literal: a pick list or a concat list.
enum Value {
    Picks(Vec<Edge>),
    Numbers(Vec<usize>),
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, what: &str) -> GenotypeError {
        let line = self.text[..self.at].matches('\n').count() + 1;
        let near: String = self.text[self.at..].chars().take(20).collect();
        GenotypeError::Invalid(format!(
            "Genotype literal, line {line}: {what} (at {near:?})"
        ))
    }

    /// Skips white space and `#` comments.
    fn skip(&mut self) {
        loop {
            let rest = &self.text[self.at..];
            let trimmed = rest.trim_start();
            self.at += rest.len() - trimmed.len();
            if !trimmed.starts_with('#') {
                return;
            }
            self.at += trimmed.find('\n').unwrap_or(trimmed.len());
        }
    }

    fn peek(&mut self) -> Option<char> {
        self.skip();
        self.text[self.at..].chars().next()
    }

    fn eat(&mut self, token: &str) -> bool {
        self.skip();
        let found = self.text[self.at..].starts_with(token);
        if found {
            self.at += token.len();
        }
        found
    }

    fn expect(&mut self, token: &str) -> Result<(), GenotypeError> {
        match self.eat(token) {
            true => Ok(()),
            false => Err(self.error(&format!("expected `{token}`"))),
        }
    }

    fn identifier(&mut self) -> Option<&'a str> {
        self.skip();
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        (len > 0 && !rest.starts_with(|c: char| c.is_ascii_digit())).then(|| {
            self.at += len;
            &rest[..len]
        })
    }

    fn number(&mut self) -> Result<usize, GenotypeError> {
        self.skip();
        let rest = &self.text[self.at..];
        let len = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        let value = rest[..len]
            .parse()
            .map_err(|_| self.error("expected a number"))?;
        self.at += len;
        Ok(value)
    }

    fn string(&mut self) -> Result<String, GenotypeError> {
        self.skip();
        let quote = match self.text[self.at..].chars().next() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(self.error("expected an op name in quotes")),
        };
        let rest = &self.text[self.at + 1..];
        let end = rest
            .find(quote)
            .ok_or_else(|| self.error("unclosed string"))?;
        self.at += end + 2;
        Ok(rest[..end].to_string())
    }

    /// `[item, …]` with an optional trailing comma.
    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, GenotypeError>,
    ) -> Result<Vec<T>, GenotypeError> {
        self.expect("[")?;
        let mut items = Vec::new();
        while !self.eat("]") {
            items.push(item(self)?);
            if !self.eat(",") {
                self.expect("]")?;
                break;
            }
        }
        Ok(items)
    }

    fn pick(&mut self) -> Result<Edge, GenotypeError> {
        self.expect("(")?;
        let op = self.string()?;
        self.expect(",")?;
        let input = self.number()?;
        self.eat(",");
        self.expect(")")?;
        Ok((op, input))
    }

    fn value(&mut self) -> Result<Value, GenotypeError> {
        if self.eat("range") {
            self.expect("(")?;
            let start = self.number()?;
            self.expect(",")?;
            let end = self.number()?;
            self.expect(")")?;
            return Ok(Value::Numbers((start..end).collect()));
        }
        self.skip();
        let bracket = self.at;
        self.expect("[")?;
        let picks = self.peek() == Some('(');
        self.at = bracket;
        if picks {
            Ok(Value::Picks(self.list(Self::pick)?))
        } else {
            Ok(Value::Numbers(self.list(Self::number)?))
        }
    }

    /// `Genotype(…)` from here; the position after it.
    fn genotype(&mut self) -> Result<Genotype, GenotypeError> {
        self.expect("Genotype")?;
        self.expect("(")?;
        let mut fields: [Option<Value>; 4] = [None, None, None, None];
        let mut position = 0;
        while !self.eat(")") {
            let start = self.at;
            let index = match (self.identifier(), self.eat("=")) {
                (Some(name), true) => FIELDS.iter().position(|f| *f == name).ok_or_else(|| {
                    self.error(&format!(
                        "unknown field `{name}` (fields: {})",
                        FIELDS.join(", ")
                    ))
                })?,
                _ => {
                    self.at = start;
                    position
                }
            };
            if index >= FIELDS.len() || fields[index].is_some() {
                return Err(self.error("too many or repeated fields"));
            }
            fields[index] = Some(self.value()?);
            position = index + 1;
            if !self.eat(",") {
                self.expect(")")?;
                break;
            }
        }
        let mut take = |i: usize| {
            fields[i]
                .take()
                .ok_or_else(|| self.error(&format!("missing `{}`", FIELDS[i])))
        };
        let picks = |v: Value, name: &str| match v {
            Value::Picks(p) => Ok(p),
            Value::Numbers(n) if n.is_empty() => Ok(Vec::new()),
            Value::Numbers(_) => Err(GenotypeError::Invalid(format!(
                "`{name}` must list (op, input) pairs"
            ))),
        };
        let numbers = |v: Value, name: &str| match v {
            Value::Numbers(n) => Ok(n),
            Value::Picks(_) => Err(GenotypeError::Invalid(format!(
                "`{name}` must list state numbers"
            ))),
        };
        let genotype = Genotype {
            normal: picks(take(0)?, "normal")?,
            normal_concat: numbers(take(1)?, "normal_concat")?,
            reduce: picks(take(2)?, "reduce")?,
            reduce_concat: numbers(take(3)?, "reduce_concat")?,
        };
        genotype.validate()?;
        Ok(genotype)
    }
}

/// True when `text` reads as a `Genotype(…)` literal (after white space).
pub fn is_literal(text: &str) -> bool {
    text.trim_start().starts_with("Genotype")
}

/// Parses one `Genotype(…)` literal (nothing but white space and comments may follow).
pub fn parse(text: &str) -> Result<Genotype, GenotypeError> {
    let mut parser = Parser { text, at: 0 };
    let genotype = parser.genotype()?;
    match parser.peek() {
        None => Ok(genotype),
        Some(_) => Err(parser.error("text after the literal")),
    }
}

/// The genotype assigned to `name` in a `genotypes.py`-style file (`NAME = Genotype(…)`, or
/// `NAME = OTHER` for one defined earlier).
pub fn parse_named(file: &str, name: &str, origin: &str) -> Result<Genotype, GenotypeError> {
    let missing = || GenotypeError::Invalid(format!("{origin} assigns no genotype to `{name}`"));
    let mut target = name.to_string();
    for _ in 0..8 {
        let line_start = file
            .match_indices(&target)
            .map(|(i, _)| i)
            .find(|&i| {
                let before = file[..i].chars().next_back();
                let after = file[i + target.len()..].trim_start();
                before.is_none_or(|c| c == '\n')
                    && after.starts_with('=')
                    && !after.starts_with("==")
            })
            .ok_or_else(missing)?;
        let value = file[line_start + target.len()..].trim_start()[1..].trim_start();
        if is_literal(value) {
            let mut parser = Parser { text: value, at: 0 };
            return parser.genotype();
        }
        target = value
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .next()
            .filter(|t| !t.is_empty())
            .ok_or_else(missing)?
            .to_string();
    }
    Err(missing())
}

/// `genotype` as DARTS writes it: `Genotype(normal=[('op', i), …], normal_concat=[…], …)`.
pub fn to_literal(genotype: &Genotype) -> String {
    let picks = |p: &[Edge]| {
        let items: Vec<String> = p.iter().map(|(op, i)| format!("('{op}', {i})")).collect();
        format!("[{}]", items.join(", "))
    };
    let numbers = |n: &[usize]| {
        let items: Vec<String> = n.iter().map(usize::to_string).collect();
        format!("[{}]", items.join(", "))
    };
    format!(
        "Genotype(normal={}, normal_concat={}, reduce={}, reduce_concat={})",
        picks(&genotype.normal),
        numbers(&genotype.normal_concat),
        picks(&genotype.reduce),
        numbers(&genotype.reduce_concat)
    )
}
