//! The Chapel binding (bindings/chapel/PolySock.chpl) against the C ABI.
//!
//! No Chapel compiler can be installed here, so instead of compiling the
//! module this test checks its C interface: every `extern proc`, `extern
//! record`, `extern const`/`var` and `extern type` in PolySock.chpl is
//! parsed and compared with include/polysock.h: the name exists, the
//! argument count agrees, and every argument, return and field type maps
//! to the header's C type. A wrong declaration fails the test (proved by
//! `checker_rejects_wrong_declarations` and
//! `checker_rejects_a_broken_module`).
//!
//! Chapel type -> C type (the table `chapel_to_c` implements):
//!
//! | Chapel                                  | C                         |
//! |-----------------------------------------|---------------------------|
//! | int(8/16/32/64), uint(8/16/32/64)        | int8_t ... uint64_t       |
//! | int, uint                               | int64_t, uint64_t         |
//! | c_int, c_uint                           | int32_t, uint32_t (*)     |
//! | c_short, c_ushort                       | int16_t, uint16_t (*)     |
//! | c_longlong, c_ulonglong                 | int64_t, uint64_t (*)     |
//! | c_long, c_ulong                         | long, unsigned long       |
//! | c_size_t, c_ssize_t                     | size_t, ssize_t           |
//! | c_intptr, c_uintptr                     | intptr_t, uintptr_t       |
//! | c_char, c_schar, c_uchar                | char, signed char, unsigned char |
//! | bool                                    | bool                      |
//! | real(32), real(64)/real, c_float, c_double | float, double          |
//! | void (or no return type)                | void                      |
//! | c_ptr(T), c_ptrConst(T)                 | T *, const T *            |
//! | c_string                                | const char *              |
//! | c_void_ptr                              | void *                    |
//! | c_array(T, N)                           | T[N] (record fields)      |
//! | an `extern type X = T` of the module    | what T maps to            |
//! | an `extern record R` of the module      | struct R                  |
//! | formal intent ref / out / inout         | pointer to the type       |
//! | formal intent const ref                 | pointer to const type     |
//!
//! (*) C's int, short and long long have these widths on every platform
//! polysock supports (ILP32, LP64, LLP64); long does not, so c_long never
//! matches a fixed-width type.
//!
//! Header typedefs (polysock_t -> int64_t) are resolved before comparing,
//! and `struct X` is X. An extern const must name a header macro whose
//! value fits the declared type. An extern record may declare a subset of
//! the struct's fields (as Chapel allows), never a field the struct lacks.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

// ---------------------------------------------------------------- C types

#[derive(Clone, Debug, PartialEq, Eq)]
enum CType {
    /// A base type, after typedef resolution: "int32_t", "char", "void",
    /// "polysock_addr" (a struct), "unsigned long"...
    Named(String),
    /// A pointer; the flag is whether the pointee is const.
    Ptr(Box<CType>, bool),
    /// A fixed-size array (struct fields).
    Array(Box<CType>, u64),
}

impl fmt::Display for CType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CType::Named(n) => write!(f, "{n}"),
            CType::Ptr(to, c) => {
                if *c {
                    write!(f, "const ")?;
                }
                write!(f, "{to} *")
            }
            CType::Array(of, n) => write!(f, "{of}[{n}]"),
        }
    }
}

fn named(s: &str) -> CType {
    CType::Named(s.to_string())
}

// ---------------------------------------------------------------- the header

#[derive(Debug, Clone)]
enum Macro {
    Int(i128),
    Str(String),
    Other(String),
}

#[derive(Debug, Default)]
struct Header {
    functions: BTreeMap<String, (CType, Vec<(String, CType)>)>,
    structs: BTreeMap<String, Vec<(String, CType)>>,
    typedefs: BTreeMap<String, CType>,
    macros: BTreeMap<String, Macro>,
}

/// Removes C comments, keeping line breaks.
fn strip_c_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let b = text.as_bytes();
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i] as char;
        if in_str {
            out.push(c);
            if c == '\\' && i + 1 < b.len() {
                out.push(b[i + 1] as char);
                i += 2;
                continue;
            }
            if c == '"' {
                in_str = false;
            }
            i += 1;
        } else if c == '"' {
            in_str = true;
            out.push(c);
            i += 1;
        } else if text[i..].starts_with("/*") {
            let end = text[i + 2..]
                .find("*/")
                .map(|e| i + 2 + e + 2)
                .unwrap_or(b.len());
            out.extend(text[i..end].chars().filter(|&c| c == '\n'));
            i = end;
        } else if text[i..].starts_with("//") {
            let end = text[i..].find('\n').map(|e| i + e).unwrap_or(b.len());
            i = end;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn parse_int(s: &str) -> Option<i128> {
    let s = s.trim();
    let s = s
        .strip_prefix('(')
        .and_then(|x| x.strip_suffix(')'))
        .unwrap_or(s);
    let s = s.trim_end_matches(['u', 'U', 'l', 'L']);
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        return i128::from_str_radix(hex, 16).ok();
    }
    s.parse().ok()
}

fn c_tokens(s: &str) -> Vec<String> {
    let mut toks = Vec::new();
    let mut cur = String::new();
    for c in s.chars() {
        if c.is_alphanumeric() || c == '_' {
            cur.push(c);
        } else {
            if !cur.is_empty() {
                toks.push(std::mem::take(&mut cur));
            }
            if !c.is_whitespace() {
                toks.push(c.to_string());
            }
        }
    }
    if !cur.is_empty() {
        toks.push(cur);
    }
    toks
}

/// A C type from declaration tokens without the declared name:
/// ["const", "char", "*", "*"] is a pointer to a pointer to const char.
fn c_type_of(tokens: &[String], typedefs: &BTreeMap<String, CType>) -> Result<CType, String> {
    let mut base: Vec<&str> = Vec::new();
    let mut base_const = false;
    let mut i = 0;
    while i < tokens.len() && tokens[i] != "*" {
        match tokens[i].as_str() {
            "const" => base_const = true,
            "struct" | "enum" | "union" | "extern" | "static" | "inline" | "volatile" => {}
            t => base.push(t),
        }
        i += 1;
    }
    if base.is_empty() {
        return Err(format!("no type in `{}`", tokens.join(" ")));
    }
    let name = base.join(" ");
    let mut t = typedefs.get(&name).cloned().unwrap_or(CType::Named(name));
    let mut pointee_const = base_const;
    while i < tokens.len() {
        match tokens[i].as_str() {
            "*" => {
                t = CType::Ptr(Box::new(t), pointee_const);
                pointee_const = false;
            }
            "const" => pointee_const = true,
            other => return Err(format!("unexpected `{other}` in `{}`", tokens.join(" "))),
        }
        i += 1;
    }
    Ok(t)
}

/// Splits "type name" / "type name[N]" into the name and its type.
fn c_declarator(decl: &str, h: &Header) -> Result<(String, CType), String> {
    let mut toks = c_tokens(decl);
    let mut array = None;
    if let Some(open) = toks.iter().position(|t| t == "[") {
        let close = toks.iter().rposition(|t| t == "]").ok_or("unclosed [")?;
        let size = toks[open + 1..close].join(" ");
        let n = parse_int(&size)
            .or_else(|| match h.macros.get(size.trim()) {
                Some(Macro::Int(v)) => Some(*v),
                _ => None,
            })
            .ok_or_else(|| format!("array size `{size}` is not a known integer"))?;
        array = Some(n as u64);
        toks.truncate(open);
    }
    let name = toks.pop().ok_or("empty declaration")?;
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Err(format!("no name in `{decl}`"));
    }
    let t = c_type_of(&toks, &h.typedefs)?;
    Ok((
        name,
        match array {
            Some(n) => CType::Array(Box::new(t), n),
            None => t,
        },
    ))
}

/// Splits at `sep` where no bracket of any kind is open.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut cur = String::new();
    for c in s.chars() {
        match c {
            '(' | '[' | '{' => depth += 1,
            ')' | ']' | '}' => depth -= 1,
            _ => {}
        }
        if c == sep && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    if !cur.trim().is_empty() {
        parts.push(cur);
    }
    parts
}

fn parse_header(text: &str) -> Result<Header, String> {
    let text = strip_c_comments(text).replace("\\\n", " ");
    let mut h = Header::default();
    let mut defined: BTreeSet<String> = BTreeSet::new();
    let mut active: Vec<bool> = Vec::new();
    let mut body = String::new();
    for line in text.lines() {
        let t = line.trim_start();
        if let Some(directive) = t.strip_prefix('#') {
            let directive = directive.trim_start();
            let (word, rest) = directive
                .split_once(char::is_whitespace)
                .map(|(w, r)| (w, r.trim()))
                .unwrap_or((directive.trim(), ""));
            let on = active.iter().all(|&a| a);
            match word {
                "ifdef" => active.push(defined.contains(rest)),
                "ifndef" => active.push(!defined.contains(rest)),
                "else" => {
                    let top = active.last_mut().ok_or("#else without #if")?;
                    *top = !*top;
                }
                "endif" => {
                    active.pop().ok_or("#endif without #if")?;
                }
                "if" | "elif" => {
                    return Err(format!(
                        "`#{word} {rest}` in the header: extend tests/binding_chapel.rs to evaluate it"
                    ));
                }
                "define" if on => {
                    let (name, value) = rest
                        .split_once(char::is_whitespace)
                        .map(|(n, v)| (n, v.trim()))
                        .unwrap_or((rest, ""));
                    defined.insert(name.to_string());
                    let m = if let Some(v) = parse_int(value) {
                        Macro::Int(v)
                    } else if value.starts_with('"') && value.ends_with('"') && value.len() >= 2 {
                        Macro::Str(value[1..value.len() - 1].to_string())
                    } else {
                        Macro::Other(value.to_string())
                    };
                    h.macros.insert(name.to_string(), m);
                }
                _ => {}
            }
            continue;
        }
        if active.iter().all(|&a| a) {
            body.push_str(line);
            body.push('\n');
        }
    }
    if !active.is_empty() {
        return Err("unterminated #if in the header".into());
    }
    for decl in split_top(&body, ';') {
        let decl = decl.trim();
        if decl.is_empty() {
            continue;
        }
        if decl.contains('{') {
            // typedef struct NAME { fields } ALIAS  /  struct NAME { fields }
            let open = decl.find('{').unwrap();
            let close = decl.rfind('}').ok_or("unclosed struct")?;
            let head = c_tokens(&decl[..open]);
            let tail = c_tokens(&decl[close + 1..]);
            let name = head
                .iter()
                .rev()
                .find(|t| *t != "struct" && *t != "typedef")
                .or(tail.last())
                .ok_or_else(|| format!("unnamed struct in `{decl}`"))?
                .clone();
            let mut fields = Vec::new();
            for f in split_top(&decl[open + 1..close], ';') {
                if f.trim().is_empty() {
                    continue;
                }
                fields.push(c_declarator(f.trim(), &h).map_err(|e| format!("struct {name}: {e}"))?);
            }
            if let Some(alias) = tail.last() {
                if alias != &name {
                    h.typedefs.insert(alias.clone(), named(&name));
                }
            }
            h.structs.insert(name, fields);
        } else if let Some(rest) = decl.strip_prefix("typedef ") {
            if let Some((_, after)) = rest.split_once("(*") {
                // A function-pointer typedef, `ret (*name)(params)`: kept as
                // an opaque pointer (no Chapel declaration names one yet).
                let name = after.split(')').next().unwrap_or("").trim().to_string();
                if name.is_empty() || !name.chars().all(|c| c.is_alphanumeric() || c == '_') {
                    return Err(format!("no name in `{decl}`"));
                }
                let pointee = CType::Named(format!("function {rest}"));
                h.typedefs
                    .insert(name, CType::Ptr(Box::new(pointee), false));
                continue;
            }
            let (name, t) = c_declarator(rest, &h)?;
            h.typedefs.insert(name, t);
        } else if let Some(open) = decl.find('(') {
            let close = decl.rfind(')').ok_or("unclosed (")?;
            let (name, ret) = c_declarator(&decl[..open], &h)?;
            let mut params = Vec::new();
            let inner = decl[open + 1..close].trim();
            if inner != "void" && !inner.is_empty() {
                for p in split_top(inner, ',') {
                    params.push(c_declarator(p.trim(), &h).map_err(|e| format!("{name}: {e}"))?);
                }
            }
            h.functions.insert(name, (ret, params));
        } else if decl.starts_with("extern ") {
            // A variable: none in polysock.h; nothing to check against.
        } else {
            return Err(format!("cannot parse header declaration `{decl}`"));
        }
    }
    Ok(h)
}

// ---------------------------------------------------------------- Chapel

/// A Chapel type expression: `c_ptr(c_char)` is { "c_ptr", [c_char] }.
#[derive(Clone, Debug)]
enum ChplType {
    Name(String, Vec<ChplType>),
    Int(i128),
}

#[derive(Debug)]
enum Extern {
    Proc {
        name: String,
        cname: String,
        formals: Vec<(String, String, ChplType)>, // intent, name, type
        ret: Option<ChplType>,
    },
    Record {
        name: String,
        cname: String,
        fields: Vec<(String, ChplType)>,
    },
    Const {
        name: String,
        cname: String,
        ty: ChplType,
    },
    Type {
        name: String,
        cname: String,
        ty: Option<ChplType>,
    },
}

/// Removes Chapel comments (block comments nest), keeping strings.
fn strip_chapel_comments(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut depth = 0;
    let mut in_str: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if depth > 0 {
            if c == '/' && next == Some('*') {
                depth += 1;
                i += 2;
            } else if c == '*' && next == Some('/') {
                depth -= 1;
                i += 2;
            } else {
                if c == '\n' {
                    out.push('\n');
                }
                i += 1;
            }
        } else if let Some(q) = in_str {
            out.push(c);
            if c == '\\' {
                if let Some(n) = next {
                    out.push(n);
                }
                i += 2;
                continue;
            }
            if c == q {
                in_str = None;
            }
            i += 1;
        } else if c == '"' || c == '\'' {
            in_str = Some(c);
            out.push(c);
            i += 1;
        } else if c == '/' && next == Some('*') {
            depth = 1;
            i += 2;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Num(i128),
    Punct(char),
}

fn chapel_tokens(text: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$')
            {
                i += 1;
            }
            toks.push(Tok::Word(chars[start..i].iter().collect()));
        } else if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let text: String = chars[start..i].iter().filter(|&&c| c != '_').collect();
            match parse_int(&text) {
                Some(v) => toks.push(Tok::Num(v)),
                None => toks.push(Tok::Word(text)),
            }
        } else if c == '"' || c == '\'' {
            let q = c;
            let mut s = String::new();
            i += 1;
            while i < chars.len() && chars[i] != q {
                if chars[i] == '\\' && i + 1 < chars.len() {
                    i += 1;
                }
                s.push(chars[i]);
                i += 1;
            }
            if i >= chars.len() {
                return Err("unterminated string".into());
            }
            i += 1;
            toks.push(Tok::Str(s));
        } else {
            toks.push(Tok::Punct(c));
            i += 1;
        }
    }
    Ok(toks)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }
    fn word(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Tok::Word(w)) => Ok(w),
            other => Err(format!("expected a name, found {other:?}")),
        }
    }
    fn expect(&mut self, c: char) -> Result<(), String> {
        match self.next() {
            Some(Tok::Punct(p)) if p == c => Ok(()),
            other => Err(format!("expected `{c}`, found {other:?}")),
        }
    }
    fn is_punct(&self, c: char) -> bool {
        matches!(self.peek(), Some(Tok::Punct(p)) if *p == c)
    }
    fn is_word(&self, w: &str) -> bool {
        matches!(self.peek(), Some(Tok::Word(x)) if x == w)
    }

    fn chpl_type(&mut self) -> Result<ChplType, String> {
        match self.next() {
            Some(Tok::Num(n)) => Ok(ChplType::Int(n)),
            Some(Tok::Word(w)) => {
                let mut args = Vec::new();
                if self.is_punct('(') {
                    self.next();
                    if !self.is_punct(')') {
                        loop {
                            args.push(self.chpl_type()?);
                            if self.is_punct(',') {
                                self.next();
                            } else {
                                break;
                            }
                        }
                    }
                    self.expect(')')?;
                }
                Ok(ChplType::Name(w, args))
            }
            other => Err(format!("expected a type, found {other:?}")),
        }
    }

    /// The declaration after `extern`.
    fn extern_decl(&mut self) -> Result<Extern, String> {
        let cname = match self.peek() {
            Some(Tok::Str(s)) => {
                let s = s.clone();
                self.next();
                Some(s)
            }
            _ => None,
        };
        let kind = self.word()?;
        match kind.as_str() {
            "proc" => {
                let name = self.word()?;
                self.expect('(')?;
                let mut formals = Vec::new();
                while !self.is_punct(')') {
                    let mut intent = Vec::new();
                    while ["const", "ref", "in", "out", "inout", "param", "type"]
                        .iter()
                        .any(|w| self.is_word(w))
                    {
                        intent.push(self.word()?);
                    }
                    let fname = self.word()?;
                    self.expect(':').map_err(|e| {
                        format!("extern proc {name}: formal {fname} needs a type ({e})")
                    })?;
                    let ty = self.chpl_type()?;
                    formals.push((intent.join(" "), fname, ty));
                    if self.is_punct(',') {
                        self.next();
                    } else if !self.is_punct(')') {
                        return Err(format!(
                            "extern proc {name}: expected `,` or `)` after a formal"
                        ));
                    }
                }
                self.expect(')')?;
                let ret = if self.is_punct(':') {
                    self.next();
                    Some(self.chpl_type()?)
                } else {
                    None
                };
                self.expect(';')
                    .map_err(|e| format!("extern proc {name}: {e}"))?;
                let cname = cname.unwrap_or_else(|| name.clone());
                Ok(Extern::Proc {
                    name,
                    cname,
                    formals,
                    ret,
                })
            }
            "record" | "union" => {
                let name = self.word()?;
                self.expect('{')?;
                let mut fields = Vec::new();
                while !self.is_punct('}') {
                    let kw = self.word()?;
                    if kw != "var" && kw != "const" {
                        return Err(format!(
                            "extern record {name}: only `var` fields are checked, found `{kw}`"
                        ));
                    }
                    let mut names = vec![self.word()?];
                    while self.is_punct(',') {
                        self.next();
                        names.push(self.word()?);
                    }
                    self.expect(':')?;
                    let ty = self.chpl_type()?;
                    self.expect(';')?;
                    for n in names {
                        fields.push((n, ty.clone()));
                    }
                }
                self.expect('}')?;
                let cname = cname.unwrap_or_else(|| name.clone());
                Ok(Extern::Record {
                    name,
                    cname,
                    fields,
                })
            }
            "const" | "var" => {
                let name = self.word()?;
                self.expect(':')
                    .map_err(|e| format!("extern {kind} {name} needs a type ({e})"))?;
                let ty = self.chpl_type()?;
                self.expect(';')?;
                let cname = cname.unwrap_or_else(|| name.clone());
                Ok(Extern::Const { name, cname, ty })
            }
            "type" => {
                let name = self.word()?;
                let ty = if self.is_punct('=') {
                    self.next();
                    Some(self.chpl_type()?)
                } else {
                    None
                };
                self.expect(';')?;
                let cname = cname.unwrap_or_else(|| name.clone());
                Ok(Extern::Type { name, cname, ty })
            }
            other => Err(format!("unrecognized extern declaration `extern {other}`")),
        }
    }
}

/// Every extern declaration of a Chapel source. Every `extern` token must
/// start one that parses: none is skipped silently.
fn parse_chapel(text: &str) -> Result<Vec<Extern>, String> {
    let toks = chapel_tokens(&strip_chapel_comments(text))?;
    let mut p = Parser { toks, pos: 0 };
    let mut out = Vec::new();
    while let Some(t) = p.next() {
        if t == Tok::Word("extern".into()) {
            let at = p.pos;
            let decl = p
                .extern_decl()
                .map_err(|e| format!("cannot parse the extern declaration at token {at}: {e}"))?;
            out.push(decl);
        }
    }
    Ok(out)
}

fn chpl_type_text(t: &ChplType) -> String {
    match t {
        ChplType::Int(n) => n.to_string(),
        ChplType::Name(n, args) if args.is_empty() => n.clone(),
        ChplType::Name(n, args) => format!(
            "{n}({})",
            args.iter()
                .map(chpl_type_text)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

struct Scope<'a> {
    aliases: &'a BTreeMap<String, ChplType>,
    records: &'a BTreeMap<String, String>, // Chapel name -> C struct name
}

/// The C type a Chapel type stands for (the table at the top of the file).
fn chapel_to_c(t: &ChplType, scope: &Scope) -> Result<CType, String> {
    let (name, args) = match t {
        ChplType::Name(n, a) => (n.as_str(), a.as_slice()),
        ChplType::Int(n) => return Err(format!("a number ({n}) where a type belongs")),
    };
    let width = |default: i128| -> Result<i128, String> {
        match args {
            [] => Ok(default),
            [ChplType::Int(w)] if [8, 16, 32, 64].contains(w) => Ok(*w),
            _ => Err(format!("bad width in `{}`", chpl_type_text(t))),
        }
    };
    let one_arg = || -> Result<&ChplType, String> {
        match args {
            [a] => Ok(a),
            _ => Err(format!("`{name}` takes one type argument")),
        }
    };
    let plain = |c: &str| -> Result<CType, String> {
        if args.is_empty() {
            Ok(named(c))
        } else {
            Err(format!("`{name}` takes no arguments"))
        }
    };
    match name {
        "int" => Ok(named(&format!("int{}_t", width(64)?))),
        "uint" => Ok(named(&format!("uint{}_t", width(64)?))),
        "c_int" => plain("int32_t"),
        "c_uint" => plain("uint32_t"),
        "c_short" => plain("int16_t"),
        "c_ushort" => plain("uint16_t"),
        "c_longlong" => plain("int64_t"),
        "c_ulonglong" => plain("uint64_t"),
        "c_long" => plain("long"),
        "c_ulong" => plain("unsigned long"),
        "c_size_t" => plain("size_t"),
        "c_ssize_t" => plain("ssize_t"),
        "c_intptr" => plain("intptr_t"),
        "c_uintptr" => plain("uintptr_t"),
        "c_char" => plain("char"),
        "c_schar" => plain("signed char"),
        "c_uchar" => plain("unsigned char"),
        "bool" => plain("bool"),
        "c_float" => plain("float"),
        "c_double" => plain("double"),
        "real" => match width(64)? {
            32 => Ok(named("float")),
            64 => Ok(named("double")),
            w => Err(format!("real({w}) has no C type")),
        },
        "void" => plain("void"),
        "c_string" => {
            plain("char")?;
            Ok(CType::Ptr(Box::new(named("char")), true))
        }
        "c_void_ptr" => {
            plain("void")?;
            Ok(CType::Ptr(Box::new(named("void")), false))
        }
        "c_ptr" => Ok(CType::Ptr(Box::new(chapel_to_c(one_arg()?, scope)?), false)),
        "c_ptrConst" => Ok(CType::Ptr(Box::new(chapel_to_c(one_arg()?, scope)?), true)),
        "c_array" => match args {
            [elem, ChplType::Int(n)] if *n > 0 => {
                Ok(CType::Array(Box::new(chapel_to_c(elem, scope)?), *n as u64))
            }
            _ => Err(format!(
                "`{}`: c_array(type, positive literal length)",
                chpl_type_text(t)
            )),
        },
        other => {
            if let Some(aliased) = scope.aliases.get(other) {
                plain("")?;
                return chapel_to_c(aliased, scope);
            }
            if let Some(cname) = scope.records.get(other) {
                plain("")?;
                return Ok(named(cname));
            }
            Err(format!(
                "unknown Chapel type `{other}`: add it to the mapping table in tests/binding_chapel.rs"
            ))
        }
    }
}

/// The C type a formal passes, given its intent.
fn formal_to_c(intent: &str, t: &ChplType, scope: &Scope) -> Result<CType, String> {
    let c = chapel_to_c(t, scope)?;
    match intent {
        "" | "in" | "const" | "const in" => Ok(c),
        "ref" | "out" | "inout" => Ok(CType::Ptr(Box::new(c), false)),
        "const ref" => Ok(CType::Ptr(Box::new(c), true)),
        other => Err(format!("intent `{other}` cannot cross to C")),
    }
}

fn int_range(c: &CType) -> Option<(i128, i128)> {
    let CType::Named(n) = c else { return None };
    Some(match n.as_str() {
        "int8_t" | "signed char" => (i8::MIN as i128, i8::MAX as i128),
        "int16_t" => (i16::MIN as i128, i16::MAX as i128),
        "int32_t" => (i32::MIN as i128, i32::MAX as i128),
        "int64_t" | "ssize_t" | "intptr_t" | "long" => (i64::MIN as i128, i64::MAX as i128),
        "uint8_t" | "unsigned char" => (0, u8::MAX as i128),
        "uint16_t" => (0, u16::MAX as i128),
        "uint32_t" => (0, u32::MAX as i128),
        "uint64_t" | "size_t" | "uintptr_t" | "unsigned long" => (0, u64::MAX as i128),
        "char" => (i8::MIN as i128, u8::MAX as i128),
        _ => return None,
    })
}

#[derive(Debug, Default)]
struct Report {
    problems: Vec<String>,
    procs: usize,
    records: usize,
    consts: usize,
    types: usize,
    used: BTreeSet<String>,
}

/// Checks every extern declaration of `chapel` against `header`.
fn check(chapel: &str, header: &Header) -> Report {
    let mut r = Report::default();
    let decls = match parse_chapel(chapel) {
        Ok(d) => d,
        Err(e) => {
            r.problems.push(e);
            return r;
        }
    };
    let mut aliases = BTreeMap::new();
    let mut records = BTreeMap::new();
    for d in &decls {
        match d {
            Extern::Type {
                name, ty: Some(t), ..
            } => {
                aliases.insert(name.clone(), t.clone());
            }
            Extern::Type {
                name,
                cname,
                ty: None,
            } => {
                records.insert(name.clone(), cname.clone());
            }
            Extern::Record { name, cname, .. } => {
                records.insert(name.clone(), cname.clone());
            }
            _ => {}
        }
    }
    let scope = Scope {
        aliases: &aliases,
        records: &records,
    };
    let resolve = |c: CType| -> CType {
        match c {
            CType::Named(n) => header.typedefs.get(&n).cloned().unwrap_or(CType::Named(n)),
            other => other,
        }
    };
    for d in &decls {
        match d {
            Extern::Proc {
                name,
                cname,
                formals,
                ret,
            } => {
                r.procs += 1;
                r.used.insert(cname.clone());
                let Some((hret, hparams)) = header.functions.get(cname) else {
                    r.problems.push(format!(
                        "extern proc {name}: `{cname}` is not declared in polysock.h"
                    ));
                    continue;
                };
                if formals.len() != hparams.len() {
                    r.problems.push(format!(
                        "extern proc {name}: argument count {} but polysock.h's {cname} takes {}",
                        formals.len(),
                        hparams.len()
                    ));
                    continue;
                }
                for (i, ((intent, fname, ty), (pname, pty))) in
                    formals.iter().zip(hparams).enumerate()
                {
                    match formal_to_c(intent, ty, &scope) {
                        Ok(c) if c == *pty => {}
                        Ok(c) => r.problems.push(format!(
                            "extern proc {name}: argument {} ({fname}: {}{}) is `{c}` in C, but polysock.h has `{pty} {pname}`",
                            i + 1,
                            if intent.is_empty() { String::new() } else { format!("{intent} ") },
                            chpl_type_text(ty)
                        )),
                        Err(e) => r.problems.push(format!(
                            "extern proc {name}: argument {} ({fname}): {e}",
                            i + 1
                        )),
                    }
                }
                let mine = match ret {
                    Some(t) => chapel_to_c(t, &scope),
                    None => Ok(named("void")),
                };
                match mine {
                    Ok(c) if resolve(c.clone()) == *hret => {}
                    Ok(c) => r.problems.push(format!(
                        "extern proc {name}: returns `{c}`, but polysock.h's {cname} returns `{hret}`"
                    )),
                    Err(e) => r.problems.push(format!("extern proc {name}: return type: {e}")),
                }
            }
            Extern::Record {
                name,
                cname,
                fields,
            } => {
                r.records += 1;
                let Some(hfields) = header.structs.get(cname) else {
                    r.problems.push(format!(
                        "extern record {name}: polysock.h has no struct `{cname}`"
                    ));
                    continue;
                };
                for (fname, ty) in fields {
                    let Some((_, hty)) = hfields.iter().find(|(n, _)| n == fname) else {
                        r.problems.push(format!(
                            "extern record {name}: struct {cname} has no field `{fname}`"
                        ));
                        continue;
                    };
                    match chapel_to_c(ty, &scope) {
                        Ok(c) if c == *hty => {}
                        Ok(c) => r.problems.push(format!(
                            "extern record {name}: field {fname} is `{c}` in C, but polysock.h has `{hty}`"
                        )),
                        Err(e) => r.problems.push(format!("extern record {name}: field {fname}: {e}")),
                    }
                }
            }
            Extern::Const { name, cname, ty } => {
                r.consts += 1;
                let c = match chapel_to_c(ty, &scope) {
                    Ok(c) => c,
                    Err(e) => {
                        r.problems.push(format!("extern const {name}: {e}"));
                        continue;
                    }
                };
                match header.macros.get(cname) {
                    None => r.problems.push(format!(
                        "extern const {name}: polysock.h defines no macro `{cname}`"
                    )),
                    Some(Macro::Int(v)) => match int_range(&c) {
                        Some((lo, hi)) if (lo..=hi).contains(v) => {}
                        Some(_) => r.problems.push(format!(
                            "extern const {name}: {cname} is {v}, which does not fit `{c}`"
                        )),
                        None => r.problems.push(format!(
                            "extern const {name}: {cname} is an integer, but the type is `{c}`"
                        )),
                    },
                    Some(Macro::Str(_)) => {
                        if c != CType::Ptr(Box::new(named("char")), true) {
                            r.problems.push(format!(
                                "extern const {name}: {cname} is a string, but the type is `{c}`"
                            ));
                        }
                    }
                    Some(Macro::Other(v)) => r.problems.push(format!(
                        "extern const {name}: {cname} is `{v}`, which this checker cannot type"
                    )),
                }
            }
            Extern::Type { name, cname, ty } => {
                r.types += 1;
                let known = header
                    .typedefs
                    .get(cname)
                    .cloned()
                    .or_else(|| header.structs.contains_key(cname).then(|| named(cname)));
                let Some(htype) = known else {
                    r.problems.push(format!(
                        "extern type {name}: polysock.h has no type `{cname}`"
                    ));
                    continue;
                };
                if let Some(t) = ty {
                    match chapel_to_c(t, &scope) {
                        Ok(c) if c == htype => {}
                        Ok(c) => r.problems.push(format!(
                            "extern type {name}: `{c}` in C, but polysock.h has `typedef {htype} {cname}`"
                        )),
                        Err(e) => r.problems.push(format!("extern type {name}: {e}")),
                    }
                }
            }
        }
    }
    r
}

// ---------------------------------------------------------------- the tests

fn real_header() -> Header {
    let text = std::fs::read_to_string(common::include_dir().join("polysock.h")).unwrap();
    parse_header(&text).unwrap_or_else(|e| panic!("parsing include/polysock.h: {e}"))
}

fn real_module() -> String {
    std::fs::read_to_string(common::root().join("bindings/chapel/PolySock.chpl")).unwrap()
}

#[test]
fn chapel_module_matches_header() {
    let header = real_header();
    let report = check(&real_module(), &header);
    assert!(
        report.problems.is_empty(),
        "bindings/chapel/PolySock.chpl disagrees with include/polysock.h:\n  {}",
        report.problems.join("\n  ")
    );
    println!(
        "PolySock.chpl: {} extern procs, {} records, {} consts, {} types checked against polysock.h",
        report.procs, report.records, report.consts, report.types
    );
    let unused: Vec<_> = header
        .functions
        .keys()
        .filter(|f| !report.used.contains(*f))
        .cloned()
        .collect();
    println!(
        "header functions the Chapel module does not use: {}",
        unused.join(", ")
    );
    assert!(
        report.procs >= 30,
        "too few extern procs found: {}",
        report.procs
    );
    assert!(report.records >= 1 && report.consts >= 20 && report.types >= 1);
}

/// The header parser reads what cbindgen writes: guards, const pointers,
/// arrays sized by macros, typedefs.
#[test]
fn header_parser_reads_declarations() {
    let h = parse_header(
        "#ifndef X_H\n#define X_H\n#include <stdint.h>\n#define X_LEN 16\n\
         #define X_NAME \"x\"\n/* a comment; with { braces } */\n\
         typedef int64_t x_t;\ntypedef struct x_rec {\n  int32_t a; // trailing\n  char name[X_LEN];\n} x_rec;\n\
         #ifdef __cplusplus\nextern \"C\" {\n#endif\n\
         int32_t x_at(int64_t index, const char **name, int64_t *value);\n\
         x_t x_new(void);\nconst struct x_rec *x_get(const void *p, size_t n);\n\
         #ifdef __cplusplus\n}\n#endif\n#endif\n",
    )
    .unwrap();
    let ptr = |t: CType, c| CType::Ptr(Box::new(t), c);
    assert_eq!(
        h.functions["x_at"].1,
        vec![
            ("index".to_string(), named("int64_t")),
            ("name".to_string(), ptr(ptr(named("char"), true), false)),
            ("value".to_string(), ptr(named("int64_t"), false)),
        ]
    );
    assert_eq!(h.functions["x_new"], (named("int64_t"), vec![]));
    assert_eq!(h.functions["x_get"].0, ptr(named("x_rec"), true));
    assert_eq!(h.functions["x_get"].1[0].1, ptr(named("void"), true));
    assert_eq!(
        h.structs["x_rec"][1],
        (
            "name".to_string(),
            CType::Array(Box::new(named("char")), 16)
        )
    );
    assert!(matches!(h.macros["X_LEN"], Macro::Int(16)));
    assert!(matches!(&h.macros["X_NAME"], Macro::Str(s) if s == "x"));
    assert!(
        parse_header("#if FOO > 1\n#endif\n").is_err(),
        "#if must not be guessed"
    );
}

/// Equivalent spellings of the same C types pass.
#[test]
fn checker_accepts_equivalent_spellings() {
    let header = real_header();
    let ok = r#"
        extern type polysock_t = int(64);
        extern record polysock_addr { var port: c_int; var host: c_array(c_char, 128); }
        extern "polysock_addr" record psAddr { var family, port: int(32); }
        extern proc polysock_close(h: int(64)): int(32);
        extern "polysock_close" proc psClose(h: polysock_t): c_int;
        extern proc polysock_bind(h: polysock_t, host: c_string, port: int(32)): c_int;
        extern proc polysock_gettimeout(h: polysock_t, ms: c_ptr(int(64))): c_int;
        extern proc polysock_getsockname(h: polysock_t, out a: polysock_addr): c_int;
        extern proc polysock_getnameinfo(const ref a: polysock_addr, flags: c_int,
            host: c_ptr(c_char), hl: c_size_t, serv: c_ptr(c_char), sl: c_size_t): c_int;
        extern proc polysock_constant_at(index: int, name: c_ptr(c_ptrConst(c_char)),
                                         ref value: int(64)): c_int;
        extern proc polysock_send(h: polysock_t, buf: c_ptrConst(void), len: c_size_t,
                                  flags: c_int): int(64);
        extern const POLYSOCK_INADDR_BROADCAST: uint(32);
        extern const POLYSOCK_VERSION_STRING: c_ptrConst(c_char);
        /* extern proc commented_out(): nothing; /* nested */ still comment */
        // extern proc also_commented(x: nope);
        proc notExtern(x: int): int { return x; } // "extern" in a string is text:
        const s = "extern proc fake(";
    "#;
    let report = check(ok, &header);
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!(
        (report.procs, report.records, report.consts, report.types),
        (8, 2, 2, 1)
    );
}

/// The checker fails on every kind of disagreement, naming what is wrong.
#[test]
fn checker_rejects_wrong_declarations() {
    let header = real_header();
    let cases: &[(&str, &str)] = &[
        (
            "extern type polysock_t = int(64); extern proc polysock_socket(family: c_int, socktype: c_int): polysock_t;",
            "argument count 2 but polysock.h's polysock_socket takes 3",
        ),
        (
            "extern proc polysock_close(h: c_int): c_int;",
            "argument 1 (h: c_int) is `int32_t` in C, but polysock.h has `int64_t h`",
        ),
        (
            "extern proc polysock_errno(): int(64);",
            "returns `int64_t`",
        ),
        ("extern proc polysock_close(h: int(64));", "returns `void`"),
        (
            "extern proc polysock_bind(h: int(64), host: c_ptr(c_char), port: c_int): c_int;",
            "argument 2 (host: c_ptr(c_char)) is `char *` in C, but polysock.h has `const char * host`",
        ),
        (
            "extern proc polysock_gettimeout(h: int(64), ms: int(64)): c_int;",
            "argument 2 (ms: int(64)) is `int64_t` in C",
        ),
        (
            "extern proc polysock_getsockopt_int(h: int(64), level: c_int, option: c_int, const ref value: c_int): c_int;",
            "is `const int32_t *` in C",
        ),
        (
            "extern proc polysock_setopt(h: int(64), opt: c_int, value: c_long): c_int;",
            "argument 3 (value: c_long) is `long` in C",
        ),
        (
            "extern proc polysock_no_such_function(): c_int;",
            "is not declared in polysock.h",
        ),
        (
            "extern proc polysock_close(h: mystery_t): c_int;",
            "unknown Chapel type `mystery_t`",
        ),
        (
            "extern record polysock_addr { var family: int(64); }",
            "field family is `int64_t` in C, but polysock.h has `int32_t`",
        ),
        (
            "extern record polysock_addr { var host: c_array(c_char, 64); }",
            "field host is `char[64]` in C, but polysock.h has `char[128]`",
        ),
        (
            "extern record polysock_addr { var nope: c_int; }",
            "has no field `nope`",
        ),
        (
            "extern record polysock_nothing { var a: c_int; }",
            "no struct `polysock_nothing`",
        ),
        (
            "extern const POLYSOCK_NO_SUCH_CONSTANT: c_int;",
            "defines no macro",
        ),
        (
            "extern const POLYSOCK_INADDR_BROADCAST: c_int;",
            "is 4294967295, which does not fit `int32_t`",
        ),
        (
            "extern const POLYSOCK_VERSION_STRING: c_int;",
            "is a string",
        ),
        (
            "extern const POLYSOCK_AF_INET: c_ptr(c_char);",
            "is an integer, but the type",
        ),
        (
            "extern type polysock_t = int(32);",
            "extern type polysock_t: `int32_t` in C, but polysock.h has `typedef int64_t polysock_t`",
        ),
        (
            "extern type polysock_nothing_t;",
            "no type `polysock_nothing_t`",
        ),
        (
            "extern proc polysock_close(h: int(64)): c_int",
            "cannot parse the extern declaration",
        ),
        (
            "extern proc polysock_close(h): c_int;",
            "formal h needs a type",
        ),
        (
            "extern frobnicate polysock_close;",
            "unrecognized extern declaration",
        ),
        (
            "extern proc polysock_close(param h: int(64)): c_int;",
            "intent `param` cannot cross to C",
        ),
    ];
    let mut missed = Vec::new();
    for (chapel, expect) in cases {
        let report = check(chapel, &header);
        if !report.problems.iter().any(|p| p.contains(expect)) {
            missed.push(format!(
                "{chapel}\n    expected a problem containing: {expect}\n    got: {:?}",
                report.problems
            ));
        }
    }
    assert!(
        missed.is_empty(),
        "the checker let these through:\n{}",
        missed.join("\n")
    );
}

/// A deliberately broken copy of the real module fails the check.
#[test]
fn checker_rejects_a_broken_module() {
    let header = real_header();
    let good = real_module();
    let mutations = [
        (
            "polysock_settimeout(h: polysock_t, ms: int(64)): c_int;",
            "polysock_settimeout(h: polysock_t, ms: c_int): c_int;",
            "polysock_settimeout",
        ),
        (
            "var host: c_array(c_char, 128);",
            "var host: c_array(c_char, 127);",
            "field host",
        ),
        (
            "private extern const POLYSOCK_AF_INET6: c_int;",
            "private extern const POLYSOCK_AF_INETX: c_int;",
            "POLYSOCK_AF_INETX",
        ),
    ];
    for (from, to, expect) in mutations {
        assert!(
            good.contains(from),
            "PolySock.chpl no longer contains `{from}`: update this test"
        );
        let report = check(&good.replacen(from, to, 1), &header);
        assert!(
            report.problems.iter().any(|p| p.contains(expect)),
            "mutating `{from}` went unnoticed: {:?}",
            report.problems
        );
    }
}
