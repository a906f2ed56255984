//! Draws the benchmark charts for docs/benchmarks.md (run by `scripts/bench-report`).
//!
//! ```text
//! bench_chart runtime target/bench/runtime.json docs/bench-runtime.svg
//! bench_chart http    target/bench/http.json    docs/bench-http.svg
//! ```
//!
//! Both are horizontal bar charts, one bar per contender, grouped:
//! - runtime: per workload and worker count, each runtime's median time relative to tokio's
//!   (tokio = 1.0; shorter is faster), from `scripts/bench-runtime`'s JSON;
//! - http: per protocol and worker count, each server's CPU µs per request (shorter is cheaper),
//!   from `scripts/bench-http`'s JSON.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use serde_json::Value;

const WIDTH: u32 = 1000;
const BAR: u32 = 14;
const GAP: u32 = 10;
const PALETTE: [RGBColor; 5] = [
    RGBColor(0xd9, 0x5f, 0x02), // Spool / the first series
    RGBColor(0x1b, 0x9e, 0x77),
    RGBColor(0x75, 0x70, 0xb3),
    RGBColor(0xe7, 0x29, 0x8a),
    RGBColor(0x66, 0x66, 0x66),
];

/// One group of bars: a label and one (series index, value) per bar.
struct Group {
    label: String,
    bars: Vec<(usize, f64)>,
}

struct Chart {
    title: String,
    x_desc: String,
    series: Vec<String>,
    groups: Vec<Group>,
    /// A vertical reference line (tokio = 1.0), if any.
    reference: Option<f64>,
    /// Bars longer than this are cut at it (their label still gives the value): one outlier
    /// must not squash every other bar.
    clip: Option<f64>,
    value_fmt: fn(f64) -> String,
}

fn render(chart: &Chart) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let rows: u32 = chart.groups.iter().map(|g| g.bars.len() as u32).sum();
    let plot_height = rows * BAR + chart.groups.len() as u32 * GAP;
    let height = plot_height + 130;
    let label_width = chart
        .groups
        .iter()
        .map(|g| g.label.chars().count())
        .max()
        .unwrap_or(10) as u32
        * 7
        + 20;
    let max = chart
        .groups
        .iter()
        .flat_map(|g| g.bars.iter().map(|b| b.1))
        .chain(chart.reference)
        .fold(0f64, f64::max)
        .min(chart.clip.unwrap_or(f64::INFINITY))
        .max(1e-9)
        * 1.15;
    let cut = chart.clip.unwrap_or(f64::INFINITY);
    let font = |size: u32| ("sans-serif", size).into_font();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut c = ChartBuilder::on(&root)
            .caption(&chart.title, font(16))
            .margin(12)
            .margin_top(40)
            .x_label_area_size(40)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0f64..max, 0f64..plot_height as f64)
            .map_err(|e| err(&e))?;
        c.configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .label_style(font(12))
            .axis_desc_style(font(12))
            .x_desc(chart.x_desc.as_str())
            .draw()
            .map_err(|e| err(&e))?;
        // Legend, top left under the caption.
        for (i, name) in chart.series.iter().enumerate() {
            let x = 20 + i as i32 * 170;
            root.draw(&Rectangle::new(
                [(x, 34), (x + 12, 46)],
                PALETTE[i % PALETTE.len()].filled(),
            ))
            .map_err(|e| err(&e))?;
            root.draw(&Text::new(name.as_str(), (x + 18, 34), font(12)))
                .map_err(|e| err(&e))?;
        }
        // Bars from the top down (plotters' y grows upwards).
        let label_style = font(12)
            .into_text_style(&root)
            .pos(Pos::new(HPos::Right, VPos::Center));
        let value_style = font(11)
            .into_text_style(&root)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let mut top = plot_height as f64 - GAP as f64 / 2.0;
        for g in &chart.groups {
            let group_top = top;
            for &(series, value) in &g.bars {
                let (y0, y1) = (top - BAR as f64 + 2.0, top - 1.0);
                let shown = value.min(cut);
                c.draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y0), (shown, y1)],
                    PALETTE[series % PALETTE.len()].filled(),
                )))
                .map_err(|e| err(&e))?;
                let (px, py) = c.backend_coord(&(shown, (y0 + y1) / 2.0));
                let text = if value > cut {
                    format!("{} (bar cut)", (chart.value_fmt)(value))
                } else {
                    (chart.value_fmt)(value)
                };
                root.draw(&Text::new(text, (px + 4, py), &value_style))
                    .map_err(|e| err(&e))?;
                top -= BAR as f64;
            }
            let (lx, ly) = c.backend_coord(&(0.0, (group_top + top) / 2.0));
            root.draw(&Text::new(g.label.as_str(), (lx - 8, ly), &label_style))
                .map_err(|e| err(&e))?;
            top -= GAP as f64;
        }
        if let Some(r) = chart.reference {
            c.draw_series(LineSeries::new(
                [(r, 0.0), (r, plot_height as f64)],
                BLACK.stroke_width(1),
            ))
            .map_err(|e| err(&e))?;
        }
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

fn runtime_chart(data: &Value) -> Chart {
    let series = [
        ("spool_ns", "Spool"),
        ("tokio_ns", "tokio"),
        ("async_executor_ns", "async-executor"),
    ];
    let mut groups = Vec::new();
    for row in data["rows"].as_array().into_iter().flatten() {
        let Some(tokio) = row["tokio_ns"].as_f64().filter(|t| *t > 0.0) else {
            continue;
        };
        let bars = series
            .iter()
            .enumerate()
            .filter_map(|(i, (key, _))| row[*key].as_f64().map(|v| (i, v / tokio)))
            .collect();
        groups.push(Group {
            label: format!(
                "{} ({} workers)",
                row["workload"].as_str().unwrap_or("?"),
                row["workers"]
            ),
            bars,
        });
    }
    let machine = &data["machine"];
    Chart {
        title: format!(
            "Runtime workloads: time relative to tokio (shorter is faster) — {} cores, {}",
            machine["cores"],
            machine["cpu"].as_str().unwrap_or("?")
        ),
        x_desc: "median time / tokio's median time (line: tokio = 1.0)".into(),
        series: series.iter().map(|s| s.1.to_owned()).collect(),
        groups,
        reference: Some(1.0),
        clip: Some(3.0),
        value_fmt: |v| format!("{v:.2}×"),
    }
}

fn http_chart(data: &Value) -> Chart {
    let mut rows: Vec<&Value> = data["rows"].as_array().into_iter().flatten().collect();
    rows.sort_by_key(|r| {
        (
            r["proto"].as_str().unwrap_or("").to_owned(),
            r["workers"].as_u64().unwrap_or(0),
        )
    });
    let mut series: Vec<String> = Vec::new();
    for r in &rows {
        let s = r["server"].as_str().unwrap_or("?").to_owned();
        if !series.contains(&s) {
            series.push(s);
        }
    }
    series.sort_by_key(|s| (!s.starts_with("spool"), s.clone()));
    let mut groups: Vec<Group> = Vec::new();
    for r in rows {
        let label = format!(
            "{} ({} workers)",
            r["proto"].as_str().unwrap_or("?"),
            r["workers"]
        );
        let Some(v) = r["cpu_us_per_req"].as_f64() else {
            continue;
        };
        let i = series
            .iter()
            .position(|s| Some(s.as_str()) == r["server"].as_str())
            .unwrap_or(0);
        match groups.last_mut() {
            Some(g) if g.label == label => g.bars.push((i, v)),
            _ => groups.push(Group {
                label,
                bars: vec![(i, v)],
            }),
        }
    }
    for g in &mut groups {
        g.bars.sort_by_key(|b| b.0);
    }
    let machine = &data["machine"];
    Chart {
        title: format!(
            "HTTP: server CPU µs per request (shorter is cheaper) — {} cores, {}",
            machine["cores"],
            machine["cpu"].as_str().unwrap_or("?")
        ),
        x_desc: "server utime+stime per completed request, µs".into(),
        series,
        groups,
        reference: None,
        clip: None,
        value_fmt: |v| format!("{v:.2} µs"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [kind, input, output] = args.as_slice() else {
        eprintln!("usage: bench_chart runtime|http INPUT.json OUTPUT.svg");
        std::process::exit(2);
    };
    let text = std::fs::read_to_string(input).unwrap_or_else(|e| {
        eprintln!("bench_chart: {input}: {e}");
        std::process::exit(1);
    });
    let data: Value = serde_json::from_str(&text).unwrap_or_else(|e| {
        eprintln!("bench_chart: {input}: {e}");
        std::process::exit(1);
    });
    let chart = match kind.as_str() {
        "runtime" => runtime_chart(&data),
        "http" => http_chart(&data),
        other => {
            eprintln!("bench_chart: unknown chart {other:?} (runtime or http)");
            std::process::exit(2);
        }
    };
    match render(&chart) {
        Ok(svg) => std::fs::write(output, svg).unwrap_or_else(|e| {
            eprintln!("bench_chart: {output}: {e}");
            std::process::exit(1);
        }),
        Err(e) => {
            eprintln!("bench_chart: {e}");
            std::process::exit(1);
        }
    }
}
