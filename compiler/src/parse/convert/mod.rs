//! Conversion of the pest tree into the AST.
//!
//! The `Converter` is split by what it converts: declarations and doc comments (this module),
//! `types`, `constants` and `names`.

use pest::iterators::Pair;

use super::grammar::Rule;
use super::scan::DocComment;
use crate::ast::{
    Attribute, AttributeArg, CompoundName, Decl, DeclKind, EnumLike, EnumMember, File, Ident,
    StructMember, Using,
};
use crate::diagnostic::{Diagnostic, FileId, Span};

mod constants;
mod names;
mod types;

/// The parse tree did not have the shape the grammar promises (a bug in this module).
#[derive(Debug)]
pub(super) struct Malformed;

type Cv<T> = Result<T, Malformed>;

fn need<T>(value: Option<T>) -> Cv<T> {
    value.ok_or(Malformed)
}

/// The meaningful children of a pair.
fn parts(pair: Pair<'_, Rule>) -> impl Iterator<Item = Pair<'_, Rule>> {
    pair.into_inner().filter(|p| !is_token(p.as_rule()))
}

/// How the components of a dotted name are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NameUse {
    /// Any identifier.
    Plain,
    /// A `library` line: lowercase components.
    Library,
}

/// Punctuation (and end-of-input) pairs, which carry no information for the AST.
fn is_token(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::semi
            | Rule::eq
            | Rule::colon
            | Rule::comma
            | Rule::pipe
            | Rule::lbrace
            | Rule::rbrace
            | Rule::langle
            | Rule::rangle
            | Rule::lparen
            | Rule::rparen
            | Rule::EOI
    )
}

/// Builds the AST and collects lexical diagnostics.
#[derive(Debug)]
pub(super) struct Converter<'t> {
    pub(super) file: FileId,
    pub(super) text: &'t str,
    pub(super) docs: Vec<DocComment>,
    pub(super) errors: Vec<Diagnostic>,
}

impl Converter<'_> {
    fn span(&self, pair: &Pair<'_, Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, s.start(), s.end())
    }

    fn error(&mut self, diag: Diagnostic) {
        self.errors.push(diag);
    }

    /// Consecutive own-line `///` comments ending directly above `pos`, first line first.
    fn docs_before(&self, pos: usize) -> Vec<String> {
        let mut idx = self.docs.partition_point(|d| d.end <= pos);
        let mut cursor = pos;
        let mut lines = Vec::new();
        while idx > 0 {
            let doc = self.docs[idx - 1];
            let gap = &self.text[doc.end..cursor];
            let only_space = gap.bytes().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'));
            if !doc.own_line || !only_space || gap.bytes().filter(|&b| b == b'\n').count() != 1 {
                break;
            }
            let body = self.text[doc.start + 3..doc.end].trim_end_matches('\r');
            lines.push(body.strip_prefix(' ').unwrap_or(body).to_owned());
            cursor = doc.start;
            idx -= 1;
        }
        lines.reverse();
        lines
    }

    /// Docs above an item that starts at `start`, plus any between its attributes and `body`.
    fn docs_for(&self, start: usize, body: usize) -> Vec<String> {
        let mut docs = self.docs_before(start);
        if body != start {
            docs.extend(self.docs_before(body));
        }
        docs
    }

    pub(super) fn file(&mut self, root: Pair<'_, Rule>) -> Cv<File> {
        let mut library = None;
        let mut usings = Vec::new();
        let mut decls = Vec::new();
        for part in parts(root) {
            match part.as_rule() {
                Rule::library_decl => library = Some(self.library_decl(part)?),
                Rule::using_decl => usings.push(self.using_decl(part)?),
                Rule::decl => decls.push(self.decl(part)?),
                _ => return Err(Malformed),
            }
        }
        let (docs, attributes, library) = need(library)?;
        Ok(File { docs, attributes, library, usings, decls })
    }

    fn library_decl(
        &mut self,
        pair: Pair<'_, Rule>,
    ) -> Cv<(Vec<String>, Vec<Attribute>, CompoundName)> {
        let start = pair.as_span().start();
        let mut attributes = Vec::new();
        let mut name = None;
        let mut body = start;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                Rule::kw_library => body = part.as_span().start(),
                Rule::compound_name => name = Some(self.compound_name(part, NameUse::Library)),
                _ => return Err(Malformed),
            }
        }
        Ok((self.docs_for(start, body), attributes, need(name)?))
    }

    fn using_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<Using> {
        let span = self.span(&pair);
        let mut library = None;
        let mut alias = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::compound_name => library = Some(self.compound_name(part, NameUse::Plain)),
                Rule::ident => alias = Some(self.ident(&part)),
                Rule::kw_using | Rule::kw_as => {}
                _ => return Err(Malformed),
            }
        }
        Ok(Using { library: need(library)?, alias, span })
    }

    fn decl(&mut self, pair: Pair<'_, Rule>) -> Cv<Decl> {
        let span = self.span(&pair);
        let mut attributes = Vec::new();
        let mut body = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                _ => body = Some(part),
            }
        }
        let body = need(body)?;
        let docs = self.docs_for(span.start, body.as_span().start());
        let (name, kind) = match body.as_rule() {
            Rule::const_decl => self.const_decl(body)?,
            Rule::alias_decl => self.alias_decl(body)?,
            Rule::type_decl => self.type_decl(body)?,
            Rule::protocol_decl | Rule::service_decl | Rule::resource_def_decl => {
                self.unsupported_decl(body)?
            }
            _ => return Err(Malformed),
        };
        Ok(Decl { docs, attributes, name, kind, span })
    }

    fn const_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut name = None;
        let mut ty = None;
        let mut value = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_const => {}
                Rule::ident => name = Some(self.ident(&part)),
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                Rule::constant => value = Some(self.constant_top(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, DeclKind::Const { ty: need(ty)?, value: need(value)? }))
    }

    fn alias_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut name = None;
        let mut ty = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_alias => {}
                Rule::ident => name = Some(self.ident(&part)),
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, DeclKind::Alias { ty: need(ty)? }))
    }

    fn type_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut name = None;
        let mut modifiers = Vec::new();
        let mut kind = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_type => {}
                Rule::ident => name = Some(self.ident(&part)),
                Rule::modifier => modifiers.push(self.keyword(&part)),
                Rule::struct_layout => {
                    let members = self.struct_members(part)?;
                    kind = Some(DeclKind::Struct {
                        modifiers: std::mem::take(&mut modifiers),
                        members,
                    });
                }
                Rule::enum_layout => {
                    kind =
                        Some(DeclKind::Enum(self.enum_like(part, std::mem::take(&mut modifiers))?));
                }
                Rule::bits_layout => {
                    kind =
                        Some(DeclKind::Bits(self.enum_like(part, std::mem::take(&mut modifiers))?));
                }
                Rule::unsupported_layout => {
                    let keyword = need(part.into_inner().next())?;
                    kind = Some(DeclKind::Unsupported { keyword: self.keyword(&keyword) });
                }
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, need(kind)?))
    }

    fn unsupported_decl(&mut self, pair: Pair<'_, Rule>) -> Cv<(Ident, DeclKind)> {
        let mut keyword = None;
        let mut name = None;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_protocol | Rule::kw_service | Rule::kw_resource_definition => {
                    keyword = Some(self.keyword(&part));
                }
                Rule::ident => name = Some(self.ident(&part)),
                Rule::type_expr => {
                    self.type_expr(part)?;
                }
                Rule::balanced_body => {}
                _ => return Err(Malformed),
            }
        }
        Ok((need(name)?, DeclKind::Unsupported { keyword: need(keyword)? }))
    }

    fn struct_members(&mut self, pair: Pair<'_, Rule>) -> Cv<Vec<StructMember>> {
        let mut members = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_struct => {}
                Rule::struct_member => members.push(self.struct_member(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok(members)
    }

    fn struct_member(&mut self, pair: Pair<'_, Rule>) -> Cv<StructMember> {
        let span = self.span(&pair);
        let mut attributes = Vec::new();
        let mut name = None;
        let mut ty = None;
        let mut default = None;
        let mut body = span.start;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                Rule::ident => {
                    body = part.as_span().start();
                    name = Some(self.ident(&part));
                }
                Rule::type_expr => ty = Some(self.type_expr(part)?),
                Rule::constant => default = Some(self.constant_top(part)?),
                _ => return Err(Malformed),
            }
        }
        let docs = self.docs_for(span.start, body);
        Ok(StructMember { docs, attributes, name: need(name)?, ty: need(ty)?, default, span })
    }

    fn enum_like(&mut self, pair: Pair<'_, Rule>, modifiers: Vec<Ident>) -> Cv<EnumLike> {
        let mut subtype = None;
        let mut members = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::kw_enum | Rule::kw_bits => {}
                Rule::type_expr => subtype = Some(self.type_expr(part)?),
                Rule::enum_member => members.push(self.enum_member(part)?),
                _ => return Err(Malformed),
            }
        }
        Ok(EnumLike { modifiers, subtype, members })
    }

    fn enum_member(&mut self, pair: Pair<'_, Rule>) -> Cv<EnumMember> {
        let span = self.span(&pair);
        let mut attributes = Vec::new();
        let mut name = None;
        let mut value = None;
        let mut body = span.start;
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attribute => attributes.push(self.attribute(part)?),
                Rule::ident => {
                    body = part.as_span().start();
                    name = Some(self.ident(&part));
                }
                Rule::constant => value = Some(self.constant_top(part)?),
                _ => return Err(Malformed),
            }
        }
        let docs = self.docs_for(span.start, body);
        Ok(EnumMember { docs, attributes, name: need(name)?, value: need(value)?, span })
    }

    fn attribute(&mut self, pair: Pair<'_, Rule>) -> Cv<Attribute> {
        let span = self.span(&pair);
        let mut name = None;
        let mut args = Vec::new();
        for part in parts(pair) {
            match part.as_rule() {
                Rule::attr_name => {
                    let ident = need(part.into_inner().next())?;
                    name = Some(self.ident(&ident));
                }
                Rule::attr_arg_named => {
                    let arg_span = self.span(&part);
                    let mut key = None;
                    let mut value = None;
                    for piece in parts(part) {
                        match piece.as_rule() {
                            Rule::ident => key = Some(self.ident(&piece)),
                            Rule::constant => value = Some(self.constant_top(piece)?),
                            _ => return Err(Malformed),
                        }
                    }
                    args.push(AttributeArg { name: key, value: need(value)?, span: arg_span });
                }
                Rule::constant => {
                    let value = self.constant_top(part)?;
                    args.push(AttributeArg { name: None, span: value.span, value });
                }
                _ => return Err(Malformed),
            }
        }
        Ok(Attribute { name: need(name)?, args, span })
    }
}
