//! The latency-percentile plot of the channel benchmark (`--plot PATH`): one curve per
//! round-trip row, latency (log scale) against the percentile, as an SVG file.

use std::path::Path;

use plotters::prelude::*;

/// Points of a curve: `x` in "nines" (`-log10(1 - q)`: 1 is p90, 3 is p99.9), `y` in ns.
pub type Curve = Vec<(f64, f64)>;

/// The quantiles each curve is sampled at: p50, then four points per decade up to p99.99.
pub fn quantiles() -> impl Iterator<Item = f64> {
    std::iter::once(0.5).chain((2..=16).map(|k| 1.0 - 10f64.powf(-f64::from(k) / 4.0)))
}

/// The `x` of quantile `q`.
pub fn nines(q: f64) -> f64 {
    -(1.0 - q).log10()
}

const COLOURS: [RGBColor; 8] = [
    RGBColor(0, 0, 0),
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
];

/// Draws `curves` (label, points) into the SVG file `path`.
pub fn write(path: &Path, title: &str, curves: &[(String, Curve)]) -> Result<(), String> {
    let err = |e: &dyn std::fmt::Display| format!("plotting {}: {e}", path.display());
    let all = curves.iter().flat_map(|(_, c)| c.iter().map(|p| p.1));
    let (low, high) = all.fold((f64::MAX, 1.0f64), |(l, h), y| (l.min(y), h.max(y)));
    let root = SVGBackend::new(path, (960, 600)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 18))
        .margin(16)
        .x_label_area_size(44)
        .y_label_area_size(72)
        .build_cartesian_2d(0.25f64..4.05, ((low * 0.7).max(1.0)..high * 1.5).log_scale())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("round trip (log scale)")
        .x_labels(16)
        .x_label_formatter(&|x| {
            // Labels at whole nines only: p90, p99, p99.9, p99.99.
            let nines = x.round();
            if (x - nines).abs() > 1e-6 || nines < 1.0 {
                return String::new();
            }
            let q = 100.0 * (1.0 - 10f64.powf(-nines));
            format!("p{}", format!("{q:.4}").trim_end_matches('0').trim_end_matches('.'))
        })
        .y_label_formatter(&|y| match *y {
            y if y >= 1e6 => format!("{:.0} ms", y / 1e6),
            y if y >= 1e3 => format!("{:.0} µs", y / 1e3),
            y => format!("{y:.0} ns"),
        })
        .draw()
        .map_err(|e| err(&e))?;
    for (i, (label, curve)) in curves.iter().enumerate() {
        let colour = COLOURS[i % COLOURS.len()];
        let style = ShapeStyle::from(colour).stroke_width(2);
        chart
            .draw_series(LineSeries::new(curve.iter().copied(), style))
            .map_err(|e| err(&e))?
            .label(label.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))
}
