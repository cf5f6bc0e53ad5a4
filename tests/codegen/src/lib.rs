//! Generated code for every schema in `schemas/`, `tests/corpus/valid/` and a set of random
//! schemas, compiled through `flatipc_gen::Builder` as a user's build script would.
#![allow(missing_docs)]

include!(concat!(env!("OUT_DIR"), "/modules.rs"));
include!(concat!(env!("OUT_DIR"), "/layouts.rs"));
