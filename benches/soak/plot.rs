//! The soak's SVG: the app's resident size against probe rounds (plotters, SVG backend
//! only; see docs/decisions/code.md).

use std::path::Path;

use plotters::prelude::*;

/// One line of the plot: a legend, a colour and a value per round.
pub struct Line<'a> {
    pub label: &'a str,
    pub color: RGBColor,
    pub points: Vec<(u64, f64)>,
}

/// Writes `lines` (MiB against round) to `path` as an SVG, titled `title`.
pub fn rss_svg(path: &Path, title: &str, lines: &[Line<'_>]) -> anyhow::Result<()> {
    let all = || lines.iter().flat_map(|l| l.points.iter());
    let last_round = all().map(|p| p.0).max().unwrap_or(1).max(1);
    let top = all().map(|p| p.1).fold(0.0_f64, f64::max);
    // From zero, so that a slope looks as big as it is.
    let y_max = (top * 1.1 / 50.0).ceil().max(1.0) * 50.0;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0..last_round, 0.0..y_max)?;
    chart
        .configure_mesh()
        .x_desc("probe round")
        .y_desc("MiB")
        .draw()?;
    for l in lines {
        let color = l.color;
        chart
            .draw_series(LineSeries::new(
                l.points.iter().copied(),
                color.stroke_width(2),
            ))?
            .label(l.label)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
