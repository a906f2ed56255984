//! Draws a [`Timeline`](crate::Timeline)'s spans as an SVG: one lane per (thread, task), time
//! left to right — the chapter's Figures 3.1 and 3.2, from a real run.
//!
//! Lanes are grouped by thread, in the order each thread first appears, and coloured by thread,
//! so "which thread ran what" reads off the colours. Spans of one lane that nearly touch are
//! merged first: a runtime may report thousands of tiny polls, and bars thinner than a pixel
//! add nothing to the picture but bytes. A lane whose thread label ends with [`WAITING`] shows
//! time spent waiting (in a timer, say) rather than running, and is drawn grey.

use std::time::Duration;

use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::Span;

const WIDTH: u32 = 1000;

/// A "thread" label ending with this is not a thread but a place where tasks wait (a timer):
/// its lane is drawn grey, because nothing runs there.
pub const WAITING: &str = "(no thread)";
const LANE_HEIGHT: u32 = 30;

/// A bar to draw: which lane, from when to when (seconds).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Bar {
    lane: usize,
    start: f64,
    end: f64,
}

/// The lanes (thread, task) in drawing order: "main" first, then the other threads by when they
/// first ran, waiting lanes ([`WAITING`]) last; within a thread, its tasks by when they first ran.
fn lanes(spans: &[Span]) -> Vec<(String, String)> {
    let first_start = |pick: &dyn Fn(&Span) -> bool| {
        spans
            .iter()
            .filter(|s| pick(s))
            .map(|s| s.start)
            .min()
            .unwrap_or_default()
    };
    let mut threads: Vec<&str> = Vec::new();
    for s in spans {
        if !threads.contains(&s.thread.as_str()) {
            threads.push(&s.thread);
        }
    }
    threads.sort_by_key(|t| {
        (
            *t != "main",
            t.ends_with(WAITING),
            first_start(&|s: &Span| s.thread == *t),
        )
    });
    let mut lanes = Vec::new();
    for thread in threads {
        let mut tasks: Vec<&str> = Vec::new();
        for s in spans.iter().filter(|s| s.thread == thread) {
            if !tasks.contains(&s.task.as_str()) {
                tasks.push(&s.task);
            }
        }
        tasks.sort_by_key(|k| first_start(&|s: &Span| s.thread == thread && s.task == *k));
        lanes.extend(tasks.into_iter().map(|k| (thread.to_owned(), k.to_owned())));
    }
    lanes
}

/// The bars: per lane, spans sorted by start, merged when the gap is under `join`, and widened
/// to at least `min_width` so that even a tiny poll shows.
fn bars(spans: &[Span], lanes: &[(String, String)], join: f64, min_width: f64) -> Vec<Bar> {
    let mut out = Vec::new();
    for (lane, (thread, task)) in lanes.iter().enumerate() {
        let mut mine: Vec<(f64, f64)> = spans
            .iter()
            .filter(|s| &s.thread == thread && &s.task == task)
            .map(|s| (s.start.as_secs_f64(), s.end.as_secs_f64()))
            .collect();
        mine.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut current: Option<(f64, f64)> = None;
        for (start, end) in mine {
            current = match current {
                Some((s, e)) if start <= e + join => Some((s, e.max(end))),
                Some((s, e)) => {
                    out.push(Bar {
                        lane,
                        start: s,
                        end: e.max(s + min_width),
                    });
                    Some((start, end))
                }
                None => Some((start, end)),
            };
        }
        if let Some((s, e)) = current {
            out.push(Bar {
                lane,
                start: s,
                end: e.max(s + min_width),
            });
        }
    }
    out
}

/// Renders `spans` under `title` as a complete SVG document.
///
/// ```
/// use std::time::Duration;
/// let spans = vec![lab::Span {
///     thread: "main".into(),
///     task: "do_something(1)".into(),
///     start: Duration::ZERO,
///     end: Duration::from_millis(100),
/// }];
/// let svg = lab::svg::render("one bar", &spans).unwrap();
/// assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
/// ```
pub fn render(title: &str, spans: &[Span]) -> Result<String, String> {
    let mut lanes = lanes(spans);
    if lanes.is_empty() {
        lanes.push(("(nothing recorded)".to_owned(), String::new()));
    }
    let end = spans
        .iter()
        .map(|s| s.end)
        .max()
        .unwrap_or_default()
        .max(Duration::from_millis(1))
        .as_secs_f64()
        * 1.03;
    let bars = bars(spans, &lanes, end / 1500.0, end / 400.0);
    let labels: Vec<String> = lanes
        .iter()
        .map(|(thread, task)| {
            if task.is_empty() {
                thread.clone()
            } else {
                format!("{thread} · {task}")
            }
        })
        .collect();
    let label_width = labels.iter().map(|l| l.chars().count()).max().unwrap_or(10) as u32 * 7 + 16;
    let n = lanes.len();
    let height = 120 + LANE_HEIGHT * n as u32;
    let threads: Vec<&str> = {
        let mut t: Vec<&str> = Vec::new();
        for (thread, _) in &lanes {
            if !t.contains(&thread.as_str()) {
                t.push(thread);
            }
        }
        t
    };
    // Lane 0 at the top: plotters counts segments from the bottom. (Its integer ranges include
    // their end, hence `0..n - 1` for n lanes below.)
    let row = |lane: usize| n - 1 - lane;
    // Short runs (a scaled-down lab) read better in milliseconds.
    let (unit, factor, decimals) = match end {
        e if e < 0.01 => ("ms", 1e3, 2),
        e if e < 1.0 => ("ms", 1e3, 0),
        _ => ("s", 1.0, 1),
    };
    let font = |size: u32| ("sans-serif", size).into_font();

    let mut svg = String::new();
    {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let root = SVGBackend::with_string(&mut svg, (WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(&e))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, font(16))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(label_width)
            .build_cartesian_2d(0f64..end, (0..n - 1).into_segmented())
            .map_err(|e| err(&e))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_label_formatter(&|_| String::new())
            .label_style(font(12))
            .axis_desc_style(font(12))
            .x_desc(format!("{unit} since the experiment started"))
            .x_label_formatter(&|x| format!("{:.decimals$}", x * factor))
            .draw()
            .map_err(|e| err(&e))?;
        // Lane labels, drawn by hand at each lane's centre: plotters' own segment labels skip
        // some layouts (a single lane, for one).
        let left = chart.backend_coord(&(0.0, SegmentValue::CenterOf(0))).0 - 8;
        let label_style = font(12)
            .into_text_style(&root)
            .pos(Pos::new(HPos::Right, VPos::Center));
        for (lane, label) in labels.iter().enumerate() {
            let y = chart
                .backend_coord(&(0.0, SegmentValue::CenterOf(row(lane))))
                .1;
            root.draw(&Text::new(label.as_str(), (left, y), &label_style))
                .map_err(|e| err(&e))?;
        }
        chart
            .draw_series(bars.iter().map(|bar| {
                let thread = &lanes[bar.lane].0;
                let colour = if thread.ends_with(WAITING) {
                    RGBColor(190, 190, 190).to_rgba()
                } else {
                    threads
                        .iter()
                        .position(|t| t == thread)
                        .map_or(BLACK.to_rgba(), |i| Palette99::pick(i).to_rgba())
                };
                let mut rect = Rectangle::new(
                    [
                        (bar.start, SegmentValue::Exact(row(bar.lane))),
                        (bar.end, SegmentValue::Exact(row(bar.lane) + 1)),
                    ],
                    colour.filled(),
                );
                rect.set_margin(5, 5, 0, 0);
                rect
            }))
            .map_err(|e| err(&e))?;
        root.present().map_err(|e| err(&e))?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(thread: &str, task: &str, start_ms: u64, end_ms: u64) -> Span {
        Span {
            thread: thread.into(),
            task: task.into(),
            start: Duration::from_millis(start_ms),
            end: Duration::from_millis(end_ms),
        }
    }

    #[test]
    fn lanes_put_main_first_then_threads_by_start() {
        let spans = [
            span("late", "x", 5, 6),
            span("timer (no thread)", "w", 0, 9),
            span("worker", "b", 1, 2),
            span("main", "c", 2, 3),
            span("main", "a", 0, 1),
        ];
        let l = lanes(&spans);
        let names: Vec<_> = l.iter().map(|(t, k)| format!("{t}/{k}")).collect();
        assert_eq!(
            names,
            [
                "main/a",
                "main/c",
                "worker/b",
                "late/x",
                "timer (no thread)/w"
            ]
        );
    }

    #[test]
    fn close_spans_merge_and_far_ones_do_not() {
        let spans = [
            span("w", "t", 0, 10),
            span("w", "t", 10, 20),
            span("w", "t", 500, 510),
        ];
        let b = bars(&spans, &lanes(&spans), 0.001, 0.0);
        assert_eq!(b.len(), 2);
        assert!((b[0].end - 0.020).abs() < 1e-9);
    }

    #[test]
    fn renders_an_empty_timeline() {
        let svg = render("empty", &[]).unwrap();
        assert!(svg.contains("nothing recorded"));
    }
}
