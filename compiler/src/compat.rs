//! `flatipc-gen compat OLD NEW`: every change between two versions of a schema, each classified
//! as compatible or breaking by the rules of `docs/EVOLUTION.md` §6.
//!
//! A change is *compatible* when peers built from OLD and from NEW still read each other's
//! messages: NEW only appends members in versions OLD does not know, marks members removed,
//! adds flexible enum or bits members, adds declarations or raises the library version.
//! Anything that moves, retypes, resizes or realigns bytes OLD peers know, changes a message id
//! or changes what a strict type accepts is *breaking*.
//!
//! Libraries and declarations are matched by name, struct members by name and position. After
//! the rules, each message is checked the way peers check each other at attach time: for every
//! version both schemas know, the fingerprints of the layouts at that version must agree; a
//! difference no rule explained is reported as breaking, so a missed case cannot pass.
//!
//! Pure: [`compare`] takes two IRs (compiled, or read back from JSON with
//! [`crate::backend::json::read`]) and returns the changes; [`render`] formats them.

use std::collections::{BTreeSet, HashMap};
use std::fmt;

use crate::ir::{
    Const, ConstValue, Decl, DeclId, DeclKind, EnumLike, Library, Member, Schema, Struct, Type,
    TypeKind,
};

/// Whether a change lets OLD and NEW peers keep reading each other's messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Class {
    /// Peers of both schemas interoperate.
    Compatible,
    /// Peers of both schemas would misread each other's messages or refuse to attach.
    Breaking,
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Class::Compatible => "compatible",
            Class::Breaking => "breaking",
        })
    }
}

/// One change between OLD and NEW.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Its classification.
    pub class: Class,
    /// What changed: `market.data`, `market.data/Quote`, `market.data/Quote.bid_size`.
    pub subject: String,
    /// How, in words (for breaking changes, why it breaks).
    pub what: String,
}

/// Every change from `old` to `new`, in the order of OLD's libraries and declarations (new
/// ones after the ones they follow).
pub fn compare(old: &Schema, new: &Schema) -> Vec<Change> {
    let mut cx = Compare {
        old,
        new,
        changes: Vec::new(),
        old_nested: nested_structs(old),
        new_nested: nested_structs(new),
    };
    for old_lib in &old.libraries {
        match new.libraries.iter().find(|l| l.name == old_lib.name) {
            Some(new_lib) => cx.library(old_lib, new_lib),
            None => cx.push(
                Class::Breaking,
                &old_lib.name,
                "library removed, with every declaration in it".to_string(),
            ),
        }
    }
    for new_lib in &new.libraries {
        if !old.libraries.iter().any(|l| l.name == new_lib.name) {
            cx.push(Class::Compatible, &new_lib.name, "new library".to_string());
        }
    }
    cx.changes
}

/// Whether any change is breaking.
pub fn is_breaking(changes: &[Change]) -> bool {
    changes.iter().any(|c| c.class == Class::Breaking)
}

/// The changes as text: one line per change (`breaking    subject: what`), then a summary line.
pub fn render(changes: &[Change]) -> String {
    let mut out = String::new();
    for c in changes {
        out.push_str(&format!("{:<11} {}: {}\n", c.class.to_string(), c.subject, c.what));
    }
    let breaking = changes.iter().filter(|c| c.class == Class::Breaking).count();
    match changes.len() {
        0 => out.push_str("no changes\n"),
        n => out.push_str(&format!(
            "{n} change{}: {} compatible, {breaking} breaking\n",
            if n == 1 { "" } else { "s" },
            n - breaking
        )),
    }
    out
}

struct Compare<'s> {
    old: &'s Schema,
    new: &'s Schema,
    changes: Vec<Change>,
    /// Fully qualified names of the structs nested in another type, in each schema.
    old_nested: BTreeSet<String>,
    new_nested: BTreeSet<String>,
}

/// Declarations a schema generates for itself (`String16`, `Vector10Level`): compared through
/// the members that use them, never on their own.
fn generated(decl: &Decl) -> bool {
    matches!(decl.kind, DeclKind::String(_) | DeclKind::Vector(_))
}

fn kind_name(decl: &Decl) -> &'static str {
    match &decl.kind {
        DeclKind::Struct(s) if s.message.is_some() => "message",
        DeclKind::Struct(_) => "struct",
        DeclKind::Enum(_) => "enum",
        DeclKind::Bits(_) => "bits",
        DeclKind::String(_) => "string",
        DeclKind::Vector(_) => "vector",
        DeclKind::Alias(_) => "alias",
        DeclKind::Const(_) => "constant",
    }
}

fn fqn(schema: &Schema, id: DeclId) -> String {
    let d = schema.decl(id);
    format!("{}/{}", schema.library(d.library).name, d.name)
}

/// The structs used as (part of) a member type of another struct or vector, by fqn.
fn nested_structs(schema: &Schema) -> BTreeSet<String> {
    fn walk(schema: &Schema, ty: &Type, out: &mut BTreeSet<String>) {
        match &ty.kind {
            TypeKind::Prim(_) => {}
            TypeKind::Array { elem, .. } => walk(schema, elem, out),
            TypeKind::Named(id) => {
                let target = schema.resolve_alias(*id);
                match &schema.decl(target).kind {
                    DeclKind::Struct(_) => {
                        out.insert(fqn(schema, target));
                    }
                    DeclKind::Vector(b) => walk(schema, &b.elem, out),
                    _ => {}
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    for decl in &schema.decls {
        if let DeclKind::Struct(s) = &decl.kind {
            for m in &s.members {
                walk(schema, &m.ty, &mut out);
            }
        }
    }
    out
}

/// A type as the schema spells it: `uint32`, `array<Price, 2>`, `string<16>`, `market.common.Price`.
fn spelling(schema: &Schema, from: &Library, ty: &Type) -> String {
    match &ty.kind {
        TypeKind::Prim(p) => p.schema_name().to_string(),
        TypeKind::Array { elem, len } => format!("array<{}, {len}>", spelling(schema, from, elem)),
        TypeKind::Named(id) => {
            let decl = schema.decl(*id);
            match &decl.kind {
                DeclKind::String(b) => format!("string<{}>", b.capacity),
                DeclKind::Vector(b) => {
                    format!("vector<{}, {}>", spelling(schema, from, &b.elem), b.capacity)
                }
                _ => {
                    let lib = schema.library(decl.library);
                    if lib.name == from.name {
                        decl.name.clone()
                    } else {
                        format!("{}.{}", lib.name, decl.name)
                    }
                }
            }
        }
    }
}

/// The capacity of a bounded string or vector type, with its element's fingerprint.
fn bound(schema: &Schema, ty: &Type) -> Option<(bool, u64, u64)> {
    let TypeKind::Named(id) = ty.kind else { return None };
    match &schema.decl(schema.resolve_alias(id)).kind {
        DeclKind::String(b) => Some((true, b.capacity, b.elem.fingerprint)),
        DeclKind::Vector(b) => Some((false, b.capacity, b.elem.fingerprint)),
        _ => None,
    }
}

/// The fingerprint of the layout of `s` at `version`: that of its last step at or before it.
fn fingerprint_at(s: &Struct, version: u16) -> Option<u64> {
    s.steps.iter().rev().find(|step| step.version <= version).map(|step| step.fingerprint)
}

impl Compare<'_> {
    fn push(&mut self, class: Class, subject: &str, what: String) {
        self.changes.push(Change { class, subject: subject.to_string(), what });
    }

    fn library(&mut self, old_lib: &Library, new_lib: &Library) {
        let name = &old_lib.name;
        if new_lib.version > old_lib.version {
            let what = format!("version raised from {} to {}", old_lib.version, new_lib.version);
            self.push(Class::Compatible, name, what);
        } else if new_lib.version < old_lib.version {
            let what = format!(
                "version lowered from {} to {}: peers of version {} write layouts this schema does not know",
                old_lib.version, new_lib.version, old_lib.version
            );
            self.push(Class::Breaking, name, what);
        }
        let new_decls: HashMap<&str, DeclId> =
            new_lib.decls.iter().map(|id| (self.new.decl(*id).name.as_str(), *id)).collect();
        for old_id in &old_lib.decls {
            let old_decl = self.old.decl(*old_id);
            if generated(old_decl) {
                continue;
            }
            let subject = fqn(self.old, *old_id);
            match new_decls.get(old_decl.name.as_str()) {
                Some(new_id) => self.decl(old_lib, new_lib, *old_id, *new_id),
                None => {
                    let what = match &old_decl.kind {
                        DeclKind::Struct(Struct { message: Some(m), .. }) => {
                            format!("message removed (id {:#010x})", m.id)
                        }
                        _ => format!("{} removed", kind_name(old_decl)),
                    };
                    self.push(Class::Breaking, &subject, what);
                }
            }
        }
        for new_id in &new_lib.decls {
            let new_decl = self.new.decl(*new_id);
            let known = old_lib.decls.iter().any(|id| self.old.decl(*id).name == new_decl.name);
            if generated(new_decl) || known {
                continue;
            }
            let what = match &new_decl.kind {
                DeclKind::Struct(Struct { message: Some(m), .. }) => {
                    format!("new message (id {:#010x})", m.id)
                }
                _ => format!("new {}", kind_name(new_decl)),
            };
            self.push(Class::Compatible, &fqn(self.new, *new_id), what);
        }
    }

    fn decl(&mut self, old_lib: &Library, new_lib: &Library, old_id: DeclId, new_id: DeclId) {
        let (old_decl, new_decl) = (self.old.decl(old_id), self.new.decl(new_id));
        let subject = fqn(self.old, old_id);
        match (&old_decl.kind, &new_decl.kind) {
            (DeclKind::Struct(o), DeclKind::Struct(n)) => {
                self.structure(&subject, old_lib, new_lib, o, n);
            }
            (DeclKind::Enum(o), DeclKind::Enum(n)) => self.enum_like(&subject, "enum", o, n),
            (DeclKind::Bits(o), DeclKind::Bits(n)) => self.enum_like(&subject, "bits type", o, n),
            (DeclKind::Alias(o), DeclKind::Alias(n)) => {
                let (was, now) = (spelling(self.old, old_lib, o), spelling(self.new, new_lib, n));
                if (o.size, o.align, o.fingerprint) != (n.size, n.align, n.fingerprint) {
                    let what = format!("alias now names `{now}`, was `{was}`: another layout");
                    self.push(Class::Breaking, &subject, what);
                } else if was != now {
                    let what =
                        format!("alias now names `{now}`, was `{was}`, with the same layout");
                    self.push(Class::Compatible, &subject, what);
                }
            }
            (DeclKind::Const(o), DeclKind::Const(n)) => self.constant(&subject, o, n),
            _ => {
                let what = format!("was a {}, now a {}", kind_name(old_decl), kind_name(new_decl));
                self.push(Class::Breaking, &subject, what);
            }
        }
    }

    fn constant(&mut self, subject: &str, old: &Const, new: &Const) {
        let show = |c: &Const| match &c.value {
            ConstValue::Int(i) => i.to_string(),
            ConstValue::Float(f) => f.to_string(),
            ConstValue::Bool(b) => b.to_string(),
            ConstValue::String(s) => format!("{s:?}"),
        };
        let same_float = matches!((&old.value, &new.value),
            (ConstValue::Float(a), ConstValue::Float(b)) if a.to_bits() == b.to_bits());
        if old.value != new.value && !same_float {
            let what = format!(
                "value changed from {} to {} (constants are not part of any layout; sizes that \
                 use it are compared where they are used)",
                show(old),
                show(new)
            );
            self.push(Class::Compatible, subject, what);
        }
    }

    fn enum_like(&mut self, subject: &str, kind: &str, old: &EnumLike, new: &EnumLike) {
        if old.underlying != new.underlying {
            let what = format!(
                "underlying type changed from {} to {}",
                old.underlying.schema_name(),
                new.underlying.schema_name()
            );
            self.push(Class::Breaking, subject, what);
        }
        if old.strict != new.strict {
            let what = if new.strict {
                format!("became strict: values older peers accept as unknown are now invalid data, and the {kind}'s fingerprint changes")
            } else {
                format!(
                    "became flexible: the {kind}'s fingerprint changes, so peers refuse each other"
                )
            };
            self.push(Class::Breaking, subject, what);
        }
        for m in &old.members {
            let member = format!("{subject}.{}", m.name);
            match new.members.iter().find(|n| n.name == m.name) {
                None => {
                    let what = format!(
                        "member removed (= {}): peers built from the old schema still send it",
                        m.value
                    );
                    self.push(Class::Breaking, &member, what);
                }
                Some(n) if n.value != m.value => {
                    let what = format!("value changed from {} to {}", m.value, n.value);
                    self.push(Class::Breaking, &member, what);
                }
                Some(_) => {}
            }
        }
        for n in new.members.iter().filter(|n| !old.members.iter().any(|m| m.name == n.name)) {
            let member = format!("{subject}.{}", n.name);
            if new.strict {
                let what = format!(
                    "new member (= {}) of a strict {kind}: older readers reject it as invalid data",
                    n.value
                );
                self.push(Class::Breaking, &member, what);
            } else {
                let what = format!("new member (= {}) of a flexible {kind}", n.value);
                self.push(Class::Compatible, &member, what);
            }
        }
    }

    fn structure(
        &mut self,
        subject: &str,
        old_lib: &Library,
        new_lib: &Library,
        old: &Struct,
        new: &Struct,
    ) {
        let breaking_before = self.breaking_count();
        match (old.message, new.message) {
            (Some(o), Some(n)) if o.id != n.id => {
                let what = format!("message id changed from {:#010x} to {:#010x}", o.id, n.id);
                self.push(Class::Breaking, subject, what);
            }
            (Some(o), None) => {
                let what = format!("no longer a message (was id {:#010x})", o.id);
                self.push(Class::Breaking, subject, what);
            }
            (None, Some(n)) => {
                let what = format!("became a message (id {:#010x}), with the same layout", n.id);
                self.push(Class::Compatible, subject, what);
            }
            _ => {}
        }
        if old.align != new.align {
            let what = format!("alignment changed from {} to {}", old.align, new.align);
            self.push(Class::Breaking, subject, what);
        }
        let frozen = old.message.is_none()
            || new.message.is_none()
            || self.old_nested.contains(subject)
            || self.new_nested.contains(subject);
        self.members(subject, old_lib, new_lib, old, new, frozen);
        // What peers check at attach: the layouts at every version both know agree.
        if self.breaking_count() == breaking_before {
            let shared = old_lib.version.min(new_lib.version);
            for version in 1..=shared {
                let (o, n) = (fingerprint_at(old, version), fingerprint_at(new, version));
                if o != n {
                    let what = format!(
                        "the layout at version {version} changed (fingerprint {} to {})",
                        o.map_or("none".into(), |f| format!("{f:#018x}")),
                        n.map_or("none".into(), |f| format!("{f:#018x}")),
                    );
                    self.push(Class::Breaking, subject, what);
                    break;
                }
            }
        }
    }

    fn breaking_count(&self) -> usize {
        self.changes.iter().filter(|c| c.class == Class::Breaking).count()
    }

    fn members(
        &mut self,
        subject: &str,
        old_lib: &Library,
        new_lib: &Library,
        old: &Struct,
        new: &Struct,
        frozen: bool,
    ) {
        let new_index: HashMap<&str, usize> =
            new.members.iter().enumerate().map(|(i, m)| (m.name.as_str(), i)).collect();
        let old_names: BTreeSet<&str> = old.members.iter().map(|m| m.name.as_str()).collect();
        // Deletions, insertions and reorderings are reported where they happen; the members
        // they move are not reported again, nor are those after a member whose size changed.
        let last_kept = old.members.iter().filter_map(|m| new_index.get(m.name.as_str())).max();
        let kept: Vec<usize> =
            old.members.iter().filter_map(|m| new_index.get(m.name.as_str()).copied()).collect();
        let mut moved = kept.len() < old.members.len()
            || kept.windows(2).any(|w| w[1] < w[0])
            || new.members.iter().enumerate().any(|(j, m)| {
                !old_names.contains(m.name.as_str()) && last_kept.is_some_and(|l| j < *l)
            });
        let mut handled = vec![false; new.members.len()];
        let mut last_matched: Option<usize> = None;
        for (i, om) in old.members.iter().enumerate() {
            let member = format!("{subject}.{}", om.name);
            let Some(&j) = new_index.get(om.name.as_str()) else {
                let renamed = new.members.get(i).filter(|nm| {
                    !handled[i]
                        && !old.members.iter().any(|o| o.name == nm.name)
                        && nm.offset == om.offset
                        && nm.ty.fingerprint == om.ty.fingerprint
                });
                if let Some(nm) = renamed {
                    handled[i] = true;
                    let what = format!(
                        "renamed to `{}`: member names are part of the layout fingerprint (mark the old one `removed` and append the new one instead)",
                        nm.name
                    );
                    self.push(Class::Breaking, &member, what);
                } else {
                    let what = if om.removed().is_some() {
                        "the reserved space of this removed member was deleted: later members move"
                            .to_string()
                    } else {
                        "deleted without `@available(removed=N)`: peers built from the old schema still read and \
                         write it (mark it removed instead; its bytes stay reserved)"
                            .to_string()
                    };
                    self.push(Class::Breaking, &member, what);
                }
                moved = true;
                continue;
            };
            handled[j] = true;
            let nm = &new.members[j];
            if last_matched.is_some_and(|l| j < l) {
                let what = "reordered: it now comes before members it used to follow".to_string();
                self.push(Class::Breaking, &member, what);
                moved = true;
            }
            last_matched = Some(last_matched.map_or(j, |l| l.max(j)));
            if !self.member_type(&member, old_lib, new_lib, om, nm) {
                moved = true;
            } else if om.offset != nm.offset && !moved {
                let what = format!("moved from offset {} to {}", om.offset, nm.offset);
                self.push(Class::Breaking, &member, what);
                moved = true;
            }
            self.member_versions(&member, om, nm);
        }
        for (j, nm) in new.members.iter().enumerate() {
            if handled[j] {
                continue;
            }
            let member = format!("{subject}.{}", nm.name);
            if last_matched.is_some_and(|l| j < l) {
                let what =
                    "inserted before existing members, which move: append it instead".to_string();
                self.push(Class::Breaking, &member, what);
            } else if frozen {
                let what = "appended to a struct that is nested or not a message: its layout is \
                            frozen (its size is part of the messages that contain it)"
                    .to_string();
                self.push(Class::Breaking, &member, what);
            } else if nm.added() > u64::from(old_lib.version) {
                let what = format!("appended in version {} (`added={}`)", nm.added(), nm.added());
                self.push(Class::Compatible, &member, what);
            } else {
                let what = format!(
                    "appended in version {}, which peers of version {} already know without it: give it `@available(added=N)` with N > {}",
                    nm.added(),
                    old_lib.version,
                    old_lib.version
                );
                self.push(Class::Breaking, &member, what);
            }
        }
    }

    /// Reports a retyped, resized or rebounded member; `true` if the type is unchanged.
    fn member_type(
        &mut self,
        member: &str,
        old_lib: &Library,
        new_lib: &Library,
        om: &Member,
        nm: &Member,
    ) -> bool {
        let (ot, nt) = (&om.ty, &nm.ty);
        if (ot.size, ot.align, ot.fingerprint) == (nt.size, nt.align, nt.fingerprint) {
            return true;
        }
        let (was, now) = (spelling(self.old, old_lib, ot), spelling(self.new, new_lib, nt));
        let what = match (&ot.kind, &nt.kind) {
            (TypeKind::Array { elem: oe, len: ol }, TypeKind::Array { elem: ne, len: nl })
                if oe.fingerprint == ne.fingerprint && ol != nl =>
            {
                format!("array length changed from {ol} to {nl} (`{was}` to `{now}`)")
            }
            _ => match (bound(self.old, ot), bound(self.new, nt)) {
                (Some((os, ocap, oe)), Some((ns, ncap, ne)))
                    if os == ns && oe == ne && ocap != ncap =>
                {
                    format!("bound changed from {ocap} to {ncap} (`{was}` to `{now}`)")
                }
                _ if was == now => {
                    let mut what = format!("its type `{now}` changed layout");
                    if ot.size != nt.size {
                        what.push_str(&format!(" (size {} to {})", ot.size, nt.size));
                    }
                    what
                }
                _ if ot.size != nt.size => {
                    format!("retyped from `{was}` to `{now}` (size {} to {})", ot.size, nt.size)
                }
                _ => format!("retyped from `{was}` to `{now}`"),
            },
        };
        self.push(Class::Breaking, member, what);
        false
    }

    fn member_versions(&mut self, member: &str, om: &Member, nm: &Member) {
        if om.added() != nm.added() {
            let what = format!(
                "`added` changed from {} to {}: the layouts of the versions in between change",
                om.added(),
                nm.added()
            );
            self.push(Class::Breaking, member, what);
        }
        match (om.removed(), nm.removed()) {
            (None, Some(r)) => {
                let what = format!(
                    "marked `removed={r}`: reserved space from version {r} on, older readers read zeros"
                );
                self.push(Class::Compatible, member, what);
            }
            (Some(r), None) => {
                let what = format!(
                    "no longer removed (was `removed={r}`): the layouts from version {r} on change"
                );
                self.push(Class::Breaking, member, what);
            }
            (Some(a), Some(b)) if a != b => {
                let what = format!(
                    "`removed` changed from {a} to {b}: the layouts of the versions in between change"
                );
                self.push(Class::Breaking, member, what);
            }
            _ => {}
        }
    }
}
