//! Deterministic generators of valid schemas, for property tests, the Rust layout test crate
//! and benchmarks. Not part of the stable API.

use std::fmt::Write as _;

/// A small deterministic PRNG (SplitMix64), so generated schemas are identical on every machine.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A value in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// An index in `0..len` (`len > 0`).
    pub fn pick(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }
}

const PRIMS: &[&str] = &[
    "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "float32",
    "float64",
];

/// A random valid schema in library `library` with about `decls` declarations: structs
/// (nesting earlier and later ones), enums, bits, aliases, arrays (nested), bounded strings and
/// vectors, constants and messages, and up to two messages with a version history (members
/// added in versions 2 and 3, members removed), in a library at version 3.
pub fn random_schema(library: &str, seed: u64, decls: usize) -> String {
    let mut rng = Rng::new(seed);
    let mut out = format!("library {library};\n\n");
    // Declare kinds first so members may refer to types declared later (but only to structs
    // with a larger index, which rules out recursion).
    let kinds: Vec<u64> = (0..decls).map(|_| rng.below(10)).collect();
    let struct_after = |i: usize, rng: &mut Rng| -> Option<usize> {
        let later: Vec<usize> = (i + 1..decls).filter(|j| kinds[*j] < 6).collect();
        if later.is_empty() {
            None
        } else {
            later.get(rng.pick(later.len())).copied()
        }
    };
    let enum_any = |rng: &mut Rng| -> Option<usize> {
        let all: Vec<usize> = (0..decls).filter(|j| (6..8).contains(&kinds[*j])).collect();
        if all.is_empty() {
            None
        } else {
            all.get(rng.pick(all.len())).copied()
        }
    };
    for (i, kind) in kinds.iter().enumerate() {
        match kind {
            0..=5 => {
                if rng.below(3) == 0 {
                    let _ = writeln!(out, "@message");
                }
                let _ = writeln!(out, "type T{i} = struct {{");
                let members = 1 + rng.below(6);
                for m in 0..members {
                    let ty = random_type(&mut rng, i, &struct_after, &enum_any, 0);
                    let _ = writeln!(out, "    m{m} {ty};");
                }
                let _ = writeln!(out, "}};");
            }
            6 => {
                let sub =
                    ["int8", "uint8", "int16", "uint16", "int32", "uint32", "int64", "uint64"]
                        [rng.pick(8)];
                let strict = if rng.below(2) == 0 { "strict" } else { "flexible" };
                let _ = writeln!(out, "type T{i} = {strict} enum : {sub} {{");
                for m in 0..1 + rng.below(4) {
                    let _ = writeln!(out, "    M{m} = {m};");
                }
                let _ = writeln!(out, "}};");
            }
            7 => {
                let (sub, bits) =
                    [("uint8", 8), ("uint16", 16), ("uint32", 32), ("uint64", 64)][rng.pick(4)];
                let strict = if rng.below(2) == 0 { "strict" } else { "flexible" };
                let _ = writeln!(out, "type T{i} = {strict} bits : {sub} {{");
                for m in 0..1 + rng.below(4) {
                    let bit = m * (bits / 4) + rng.below(bits / 4);
                    let _ = writeln!(out, "    B{m} = 0x{:x};", 1u128 << bit);
                }
                let _ = writeln!(out, "}};");
            }
            8 => {
                let ty = random_type(&mut rng, i, &struct_after, &enum_any, 1);
                let _ = writeln!(out, "alias T{i} = {ty};");
            }
            _ => {
                let _ = writeln!(out, "const T{i} uint32 = {};", rng.below(1000));
            }
        }
    }
    // Messages with a version history. Nothing nests them, so they may grow; each starts with
    // a `uint64`, so no later member raises the alignment and no removal lowers it.
    let versioned = rng.below(3);
    for k in 0..versioned {
        let _ = writeln!(out, "@message\ntype V{k} = struct {{\n    m0 uint64;");
        let mut m = 1;
        for added in 1..=3u64 {
            for _ in 0..rng.below(3) {
                let ty = random_type(&mut rng, 0, &struct_after, &enum_any, 1);
                let removed =
                    (added < 3 && rng.below(3) == 0).then(|| added + 1 + rng.below(3 - added));
                let available = match (added, removed) {
                    (1, None) => String::new(),
                    (1, Some(r)) => format!("    @available(removed={r})\n"),
                    (a, None) => format!("    @available(added={a})\n"),
                    (a, Some(r)) => format!("    @available(added={a}, removed={r})\n"),
                };
                let _ = writeln!(out, "{available}    m{m} {ty};");
                m += 1;
            }
        }
        let _ = writeln!(out, "}};");
    }
    if versioned > 0 {
        out.insert_str(0, "@available(version=3)\n");
    }
    out
}

fn random_type(
    rng: &mut Rng,
    i: usize,
    struct_after: &impl Fn(usize, &mut Rng) -> Option<usize>,
    enum_any: &impl Fn(&mut Rng) -> Option<usize>,
    depth: u32,
) -> String {
    match rng.below(if depth > 2 { 4 } else { 8 }) {
        0..=2 => PRIMS[rng.pick(PRIMS.len())].to_string(),
        3 => match struct_after(i, rng) {
            Some(j) => format!("T{j}"),
            None => "uint16".to_string(),
        },
        4 => match enum_any(rng) {
            Some(j) => format!("T{j}"),
            None => "int32".to_string(),
        },
        5 => format!(
            "array<{}, {}>",
            random_type(rng, i, struct_after, enum_any, depth + 1),
            1 + rng.below(5)
        ),
        6 => format!("string<{}>", 1 + rng.below(40)),
        _ => format!(
            "vector<{}, {}>",
            random_type(rng, i, struct_after, enum_any, depth + 1),
            1 + rng.below(4)
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic() {
        assert_eq!(random_schema("a.b", 7, 20), random_schema("a.b", 7, 20));
        assert_ne!(random_schema("a.b", 7, 20), random_schema("a.b", 8, 20));
    }
}
