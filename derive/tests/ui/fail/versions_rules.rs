// The schema-evolution rules the derive checks by syntax, one struct per rule.
extern crate flatipc_renamed as flatipc;
use flatipc::prelude::*;

// A version is 1 to 255.
#[derive(FlatMessage)]
#[flat(id = 1, version = 256)]
#[repr(C)]
struct VersionOutOfRange {
    a: u32,
}

// `added` is at most the struct's version (1 by default).
#[derive(FlatMessage)]
#[flat(id = 2)]
#[repr(C)]
struct AddedTooNew {
    a: u32,
    #[flat(added = 2)]
    b: u32,
}

// `removed` too.
#[derive(FlatMessage)]
#[flat(id = 3, version = 2)]
#[repr(C)]
struct RemovedTooNew {
    a: u32,
    #[flat(removed = 3, was = u32)]
    _removed_b: [u8; 4],
}

// A member is removed after it is added.
#[derive(FlatMessage)]
#[flat(id = 4, version = 3)]
#[repr(C)]
struct RemovedBeforeAdded {
    a: u32,
    #[flat(added = 3, removed = 2, was = u32)]
    _removed_b: [u8; 4],
}

// Only messages change.
#[derive(FlatMessage)]
#[flat(version = 2)]
#[repr(C)]
struct NotAMessage {
    a: u32,
    #[flat(added = 2)]
    b: u32,
}

// The first member is in version 1.
#[derive(FlatMessage)]
#[flat(id = 5, version = 2)]
#[repr(C)]
struct FirstMemberAdded {
    #[flat(added = 2)]
    a: u32,
}

// Members are appended.
#[derive(FlatMessage)]
#[flat(id = 6, version = 2)]
#[repr(C)]
struct NotAppended {
    a: u32,
    #[flat(added = 2)]
    b: u32,
    c: u32,
}

// At most 4 steps.
#[derive(FlatMessage)]
#[flat(id = 7, version = 5)]
#[repr(C)]
struct TooManySteps {
    a: u32,
    #[flat(added = 2)]
    b: u32,
    #[flat(added = 3)]
    c: u32,
    #[flat(added = 4)]
    d: u32,
    #[flat(added = 5)]
    e: u32,
}

// Strings, vectors, enums and bits have no versions.
#[derive(FlatMessage)]
#[flat(string, version = 2)]
#[repr(C)]
struct Name {
    len: u32,
    data: [u8; 4],
}

#[derive(FlatMessage)]
#[flat(vector)]
#[repr(C)]
struct Ids {
    len: u32,
    #[flat(added = 2)]
    items: [u32; 2],
}

#[derive(FlatMessage)]
#[flat(enum)]
#[repr(transparent)]
struct Side(#[flat(added = 2)] u8);

fn main() {}
