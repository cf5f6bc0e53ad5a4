//! flatipc quickstart: one schema, two languages, the same bytes.
//!
//! 1. `build.rs` compiles `schemas/market.fidl` into Rust types and C headers.
//! 2. This program fills `Trade` messages in Rust and writes their raw bytes to a file.
//! 3. It compiles `c/read_trades.c` against the generated header with the system C compiler,
//!    runs it, and checks that C read every field exactly as Rust wrote it.
//!
//! Run: `cargo run -p flatipc-quickstart`.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use flatipc::zerocopy::IntoBytes;
use flatipc::FlatType;

// A binary uses only part of a schema; the rest would be reported as dead code.
#[allow(dead_code)]
mod market_common {
    flatipc::include_schema!("market_common");
}
#[allow(dead_code)]
mod market_data {
    flatipc::include_schema!("market_data");
}

use market_common::{Price, Symbol};
use market_data::{Trade, TradeFlags, Venue};

fn trades() -> Vec<Trade> {
    let rows = [
        ("AAPL", 18_950, -2, 100, Venue::XNAS),
        ("MSFT", 41_210, -2, 250, Venue::XNYS),
        ("ESZ6", 601_225, -2, 3, Venue::XCME),
    ];
    rows.iter()
        .enumerate()
        .map(|(i, (symbol, mantissa, exponent, quantity, venue))| Trade {
            sequence: 1000 + i as u64,
            symbol: Symbol::new(symbol).expect("symbols fit in string<16>"),
            price: Price { mantissa: *mantissa, exponent: *exponent, ..Default::default() },
            quantity: *quantity,
            venue: *venue,
            flags: if i % 2 == 0 {
                TradeFlags::AGGRESSOR_BUY
            } else {
                TradeFlags::AGGRESSOR_BUY | TradeFlags::AUCTION
            },
            is_block: (i == 2).into(),
            ..Default::default()
        })
        .collect()
}

fn expected_line(t: &Trade) -> String {
    format!(
        "seq={} symbol={} price={}e{} qty={} venue={} flags={:#x} block={}",
        t.sequence,
        t.symbol.as_str().unwrap_or("?"),
        t.price.mantissa,
        t.price.exponent,
        t.quantity,
        t.venue.0,
        t.flags.0,
        t.is_block.0
    )
}

fn compile_c(dir: &Path) -> Result<PathBuf, String> {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("c/read_trades.c");
    let exe = dir.join("read_trades");
    let cc = std::env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let status = Command::new(&cc)
        .args([
            "-std=c11",
            "-O2",
            "-Wall",
            "-Wextra",
            "-Werror",
            "-pedantic",
            "-I",
            env!("QUICKSTART_C_INCLUDE"),
        ])
        .arg(&source)
        .arg("-o")
        .arg(&exe)
        .status()
        .map_err(|e| format!("cannot run the C compiler `{cc}`: {e} (install gcc, or set CC)"))?;
    if !status.success() {
        return Err(format!("`{cc}` failed to compile {}", source.display()));
    }
    Ok(exe)
}

fn main() -> ExitCode {
    let trades = trades();
    for t in &trades {
        if let Err(e) = t.validate() {
            eprintln!("invalid trade: {e}");
            return ExitCode::FAILURE;
        }
    }
    println!(
        "Rust: built {} `Trade` messages ({} bytes each, id {:#06x}):",
        trades.len(),
        size_of::<Trade>(),
        Trade::ID
    );
    println!("  {:?}", trades[0]);

    let dir = std::env::temp_dir().join(format!("flatipc-quickstart-{}", std::process::id()));
    let result = (|| -> Result<String, String> {
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let file = dir.join("trades.bin");
        std::fs::write(&file, trades.as_slice().as_bytes()).map_err(|e| e.to_string())?;
        let exe = compile_c(&dir)?;
        let out = Command::new(exe).arg(&file).output().map_err(|e| e.to_string())?;
        if !out.status.success() {
            return Err(format!("C reader failed: {}", String::from_utf8_lossy(&out.stderr)));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    let c_output = match result {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };

    println!("\nC (reading the same bytes in place through market_data.h):");
    let mut lines = c_output.lines();
    let mut ok = true;
    for t in &trades {
        let expected = expected_line(t);
        let got = lines.next().unwrap_or("<missing>");
        let mark = if got == expected { "ok " } else { "BAD" };
        ok &= got == expected;
        println!("  {mark} {got}");
    }
    let footer = lines.next().unwrap_or("");
    println!("  {footer}");
    ok &= footer
        == format!(
            "sizeof(market_data_Trade)={} message_id={:#06x}",
            size_of::<Trade>(),
            Trade::ID
        );
    if ok {
        println!(
            "\nRust and C agree on every field of {} messages ({} bytes each).",
            trades.len(),
            size_of::<Trade>()
        );
        ExitCode::SUCCESS
    } else {
        eprintln!("\nMISMATCH between Rust and C: this is a flatipc bug, please report it.");
        ExitCode::FAILURE
    }
}
