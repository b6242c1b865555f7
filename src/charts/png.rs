//! One department's open items by grade as a PNG, for the warning email (`Outgoing::chart_png`,
//! shown as `cid:chart`). A mail client shows no SVG and has none of the screen's fonts, so
//! this one is drawn to pixels with plotters' bitmap backend, its Chinese text rasterised by
//! ab_glyph from a CJK font file read at run time ([`ChartFont::load`]). Pure once the font
//! is loaded: the name and counts in, PNG bytes out. Light on white, as mail is read, in the
//! screen's three grade colours, each bar with its word and count beside it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::input::Counts;
use super::{ChartError, GRADES, axis_steps};

/// Where the CJK fonts are found when no path is configured, best first: WenQuanYi Micro
/// Hei (Debian's `fonts-wqy-microhei`), then Noto Sans CJK (`fonts-noto-cjk`).
pub const FONT_PATHS: [&str; 2] = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
];

/// The drawing's size: wide enough for a long department name at the title's size, and
/// no larger than a mail client shows without scaling.
pub const SIZE: (u32, u32) = (640, 360);

const WHITE: RGBColor = RGBColor(0xFF, 0xFF, 0xFF);
const INK: RGBColor = RGBColor(0x1F, 0x29, 0x37);
const MUTED_INK: RGBColor = RGBColor(0x6B, 0x72, 0x80);
const RULE: RGBColor = RGBColor(0xE5, 0xE7, 0xEB);

#[derive(Debug, thiserror::Error)]
pub enum FontError {
    #[error(
        "no CJK font found for the PNG charts (report and email); tried {tried}; install fonts-wqy-microhei \
         (or fonts-noto-cjk), or configure the path of a TrueType/OpenType font with Chinese glyphs"
    )]
    NotFound { tried: String },
    #[error(
        "the font file {path} could not be read: {source}; check the path and its permissions, \
         or install fonts-wqy-microhei (or fonts-noto-cjk) and leave the path out"
    )]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "{origin} is not a font the chart can use (a TrueType/OpenType font or collection is needed)"
    )]
    Invalid { origin: String },
}

/// A CJK font registered for the bitmap charts.
///
/// plotters keeps its fonts in a process-wide table of `'static` slices, so the bytes read
/// by [`ChartFont::load`] stay for the life of the process: load the font once at start-up
/// and share the `ChartFont`, rather than loading it for each chart.
#[derive(Debug, Clone)]
pub struct ChartFont {
    /// The name it is registered under: unique per load, so two fonts never replace each
    /// other in plotters' table.
    family: String,
    /// Where it came from, for errors and logs.
    origin: String,
}

impl ChartFont {
    /// Reads the font at `path`, or when `None` the first of [`FONT_PATHS`] that exists.
    pub fn load(path: Option<&Path>) -> Result<Self, FontError> {
        let (path, bytes) = match path {
            Some(path) => (
                path.to_path_buf(),
                std::fs::read(path).map_err(|source| FontError::Read {
                    path: path.to_path_buf(),
                    source,
                })?,
            ),
            None => Self::search(&FONT_PATHS)?,
        };
        Self::from_static(
            Box::leak(bytes.into_boxed_slice()),
            &path.display().to_string(),
        )
    }

    /// The first readable font of `candidates`.
    fn search(candidates: &[&str]) -> Result<(PathBuf, Vec<u8>), FontError> {
        let mut tried = Vec::new();
        for candidate in candidates {
            match std::fs::read(candidate) {
                Ok(bytes) => return Ok((PathBuf::from(candidate), bytes)),
                Err(e) => tried.push(format!("{candidate} ({e})")),
            }
        }
        Err(FontError::NotFound {
            tried: tried.join(", "),
        })
    }

    /// Registers font bytes the caller already holds for good (`include_bytes!`, or a
    /// buffer leaked once); `origin` names them in errors.
    pub fn from_static(bytes: &'static [u8], origin: &str) -> Result<Self, FontError> {
        static LOADED: AtomicU64 = AtomicU64::new(0);
        let family = format!(
            "duban-chart-font-{}",
            LOADED.fetch_add(1, Ordering::Relaxed)
        );
        plotters::style::register_font(&family, FontStyle::Normal, bytes).map_err(|_| {
            FontError::Invalid {
                origin: origin.to_owned(),
            }
        })?;
        Ok(Self {
            family,
            origin: origin.to_owned(),
        })
    }

    pub fn origin(&self) -> &str {
        &self.origin
    }

    fn style<'a>(&'a self, px: f64, colour: &'a RGBColor, h: HPos, v: VPos) -> TextStyle<'a> {
        TextStyle::from(FontDesc::new(
            FontFamily::Name(&self.family),
            px,
            FontStyle::Normal,
        ))
        .color(colour)
        .pos(Pos::new(h, v))
    }
}

/// `department`'s open items by grade as a PNG of [`SIZE`].
pub fn department(
    department: &str,
    counts: &Counts,
    font: &ChartFont,
) -> Result<Vec<u8>, ChartError> {
    let pixels = pixels(department, counts, font)?;
    encode(&pixels, SIZE)
}

type Drawn =
    Result<(), DrawingAreaErrorKind<<BitMapBackend<'static> as DrawingBackend>::ErrorType>>;

fn failed(reason: impl ToString) -> ChartError {
    ChartError {
        chart: "department (PNG)",
        reason: reason.to_string(),
    }
}

type Area<'a> = DrawingArea<BitMapBackend<'a>, plotters::coord::Shift>;

/// A drawing of `size` as RGB pixels, row by row.
fn render(size: (u32, u32), draw: impl FnOnce(&Area<'_>) -> Drawn) -> Result<Vec<u8>, ChartError> {
    let mut buffer = vec![0u8; size.0 as usize * size.1 as usize * 3];
    {
        let area = BitMapBackend::with_buffer(&mut buffer, size).into_drawing_area();
        draw(&area).and_then(|()| area.present()).map_err(failed)?;
    }
    Ok(buffer)
}

fn pixels(department: &str, counts: &Counts, font: &ChartFont) -> Result<Vec<u8>, ChartError> {
    render(SIZE, |area| draw(area, department, counts, font))
}

/// One department's bar in the ranking chart.
pub struct RankBar<'a> {
    pub department: &'a str,
    pub score: f64,
    pub on_time_rate: Option<f64>,
}

/// The width of the ranking chart; its height grows with the departments.
pub const RANKING_WIDTH: u32 = 960;

/// The rankings' chart (the report's PNG, the report mail's inline picture): each ranked
/// department's score out of 100 as a bar, its on-time rate as a thinner bar beneath,
/// the values at the bars' ends, the title and the period above.
pub fn ranking(
    title: &str,
    subtitle: &str,
    footer: &str,
    rows: &[RankBar<'_>],
    font: &ChartFont,
) -> Result<Vec<u8>, ChartError> {
    let size = (RANKING_WIDTH, 150 + 40 * rows.len().max(3) as u32);
    let pixels = render(size, |area| {
        draw_ranking(area, size, title, subtitle, footer, rows, font)
    })?;
    encode(&pixels, size)
}

fn draw_ranking(
    area: &Area<'_>,
    (width, height): (u32, u32),
    title: &str,
    subtitle: &str,
    footer: &str,
    rows: &[RankBar<'_>],
    font: &ChartFont,
) -> Drawn {
    area.fill(&WHITE)?;
    area.draw(&Text::new(
        footer.to_owned(),
        (24, height as i32 - 18),
        font.style(13.0, &MUTED_INK, HPos::Left, VPos::Center),
    ))?;
    area.draw(&Text::new(
        title.to_owned(),
        (24, 30),
        font.style(26.0, &INK, HPos::Left, VPos::Center),
    ))?;
    area.draw(&Text::new(
        subtitle.to_owned(),
        (24, 62),
        font.style(16.0, &MUTED_INK, HPos::Left, VPos::Center),
    ))?;
    let (left, right) = (250, width as i32 - 90);
    let span = f64::from(right - left);
    let (score_colour, rate_colour) = (RGBColor(0x25, 0x63, 0xEB), RGBColor(0x16, 0xA3, 0x4A));
    area.draw(&Rectangle::new(
        [(left, 84), (left + 14, 96)],
        score_colour.filled(),
    ))?;
    area.draw(&Text::new(
        "综合得分（满分100）",
        (left + 20, 90),
        font.style(14.0, &INK, HPos::Left, VPos::Center),
    ))?;
    area.draw(&Rectangle::new(
        [(left + 200, 87), (left + 214, 93)],
        rate_colour.filled(),
    ))?;
    area.draw(&Text::new(
        "按时办结率",
        (left + 220, 90),
        font.style(14.0, &INK, HPos::Left, VPos::Center),
    ))?;
    for (i, row) in rows.iter().enumerate() {
        let y = 112 + 40 * i as i32;
        area.draw(&Text::new(
            row.department.to_owned(),
            (left - 12, y + 10),
            font.style(17.0, &INK, HPos::Right, VPos::Center),
        ))?;
        let score = (span * (row.score / 100.0).clamp(0.0, 1.0)) as i32;
        area.draw(&PathElement::new([(left, y + 30), (right, y + 30)], RULE))?;
        if score > 0 {
            area.draw(&Rectangle::new(
                [(left, y), (left + score, y + 18)],
                score_colour.filled(),
            ))?;
        }
        area.draw(&Text::new(
            format!("{:.1}", row.score),
            (left + score + 8, y + 9),
            font.style(15.0, &INK, HPos::Left, VPos::Center),
        ))?;
        if let Some(rate) = row.on_time_rate {
            let rate_w = (span * rate.clamp(0.0, 1.0)) as i32;
            if rate_w > 0 {
                area.draw(&Rectangle::new(
                    [(left, y + 21), (left + rate_w, y + 27)],
                    rate_colour.filled(),
                ))?;
            }
            area.draw(&Text::new(
                format!("{:.0}%", rate * 100.0),
                (left + rate_w + 8, y + 24),
                font.style(12.0, &MUTED_INK, HPos::Left, VPos::Center),
            ))?;
        }
    }
    Ok(())
}

fn draw(area: &Area<'_>, department: &str, counts: &Counts, font: &ChartFont) -> Drawn {
    let (width, height) = (SIZE.0 as i32, SIZE.1 as i32);
    area.fill(&WHITE)?;
    let title = if department.is_empty() {
        "在办事项".to_owned()
    } else {
        format!("{department} 在办事项")
    };
    area.draw(&Text::new(
        title,
        (24, 30),
        font.style(26.0, &INK, HPos::Left, VPos::Center),
    ))?;
    area.draw(&Text::new(
        format!("共 {} 项 · 按预警等级", counts.total()),
        (24, 62),
        font.style(16.0, &MUTED_INK, HPos::Left, VPos::Center),
    ))?;

    // The plot: a value axis on the left, three bars, their words under the baseline.
    let (left, right, top, baseline) = (64, width - 24, 100, height - 52);
    let values = [counts.blue, counts.yellow, counts.red];
    let (step, axis_top) = axis_steps(values.iter().copied().max().unwrap_or(0));
    let y_of = |v: u64| baseline - ((baseline - top) as f64 * v as f64 / axis_top as f64) as i32;
    let mut tick = 0;
    while tick <= axis_top {
        let y = y_of(tick);
        area.draw(&PathElement::new([(left, y), (right, y)], RULE))?;
        area.draw(&Text::new(
            tick.to_string(),
            (left - 10, y),
            font.style(14.0, &MUTED_INK, HPos::Right, VPos::Center),
        ))?;
        tick += step;
    }
    let slot = (right - left) / 3;
    let bar = slot * 11 / 20;
    for (i, (value, (_, colour, word))) in values.iter().zip(GRADES.iter()).enumerate() {
        let centre = left + slot * i as i32 + slot / 2;
        let y = y_of(*value);
        if *value > 0 {
            area.draw(&Rectangle::new(
                [(centre - bar / 2, y), (centre + bar / 2, baseline)],
                colour.filled(),
            ))?;
        }
        area.draw(&Text::new(
            value.to_string(),
            (centre, y - 14),
            font.style(20.0, &INK, HPos::Center, VPos::Center),
        ))?;
        area.draw(&Text::new(
            *word,
            (centre, baseline + 24),
            font.style(18.0, &INK, HPos::Center, VPos::Center),
        ))?;
    }
    area.draw(&PathElement::new(
        [(left, baseline), (right, baseline)],
        INK,
    ))?;
    Ok(())
}

/// RGB pixels as a PNG.
fn encode(pixels: &[u8], (width, height): (u32, u32)) -> Result<Vec<u8>, ChartError> {
    let mut out = Vec::with_capacity(32 * 1024);
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder.set_compression(png::Compression::Best);
    let mut writer = encoder.write_header().map_err(failed)?;
    writer.write_image_data(pixels).map_err(failed)?;
    writer.finish().map_err(failed)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn font() -> ChartFont {
        // The machines this is built on have the font (see FONT_PATHS); a missing one is a
        // failed test that names the paths tried.
        ChartFont::load(None).unwrap_or_else(|e| panic!("{e}"))
    }

    fn counts(blue: u64, yellow: u64, red: u64) -> Counts {
        Counts { blue, yellow, red }
    }

    fn decode(png_bytes: &[u8]) -> (png::OutputInfo, Vec<u8>) {
        let decoder = png::Decoder::new(std::io::Cursor::new(png_bytes));
        let mut reader = decoder.read_info().expect("a PNG header");
        let mut pixels = vec![0; reader.output_buffer_size()];
        let info = reader.next_frame(&mut pixels).expect("the PNG's pixels");
        pixels.truncate(info.buffer_size());
        (info, pixels)
    }

    /// The pixels of rows `rows` that are not white.
    fn ink(pixels: &[u8], rows: std::ops::Range<usize>) -> usize {
        let stride = SIZE.0 as usize * 3;
        pixels[rows.start * stride..rows.end * stride]
            .chunks(3)
            .filter(|p| p != &[0xFF, 0xFF, 0xFF])
            .count()
    }

    #[test]
    fn the_chart_is_a_png_of_its_size() {
        let bytes = department("市住房和城乡建设局", &counts(12, 5, 3), &font()).expect("drawn");
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&bytes[12..16], b"IHDR");
        assert_eq!(
            u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
            SIZE.0
        );
        assert_eq!(
            u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
            SIZE.1
        );
        let (info, pixels) = decode(&bytes);
        assert_eq!((info.width, info.height), SIZE);
        assert_eq!(info.color_type, png::ColorType::Rgb);
        // Compressed: a mail carries it, and flat colours compress well.
        assert!(bytes.len() < pixels.len() / 10, "{} bytes", bytes.len());
    }

    #[test]
    fn the_department_name_is_drawn_in_chinese_glyphs() {
        let font = font();
        let c = counts(12, 5, 3);
        let (_, named) = decode(&department("市住建局", &c, &font).unwrap());
        let (_, other) = decode(&department("市规划局", &c, &font).unwrap());
        let (_, unnamed) = decode(&department("", &c, &font).unwrap());
        let title = 10..50;
        // Ink where the name is, and different ink for different characters: missing
        // glyphs (a font without CJK) would draw nothing or the same box for each.
        assert!(
            ink(&named, title.clone()) > ink(&unnamed, title.clone()) + 400,
            "named {} unnamed {}",
            ink(&named, title.clone()),
            ink(&unnamed, title.clone())
        );
        let stride = SIZE.0 as usize * 3;
        assert_ne!(
            named[title.start * stride..title.end * stride],
            other[title.start * stride..title.end * stride]
        );
        // Below the title the charts are the same.
        assert_eq!(named[50 * stride..], other[50 * stride..]);
    }

    #[test]
    fn each_bar_is_drawn_in_its_colour_and_height() {
        let (_, pixels) = decode(&department("市住建局", &counts(10, 0, 5), &font()).unwrap());
        let colour_count = |c: RGBColor| pixels.chunks(3).filter(|p| p == &[c.0, c.1, c.2]).count();
        let (blue, yellow, red) = (
            colour_count(GRADES[0].1),
            colour_count(GRADES[1].1),
            colour_count(GRADES[2].1),
        );
        assert_eq!(yellow, 0, "no yellow items, no yellow bar");
        // The red bar is half the blue one (same width, half the height), give or take a
        // row of rounding.
        let ratio = red as f64 / blue as f64;
        assert!((0.45..0.55).contains(&ratio), "blue {blue} red {red}");
    }

    #[test]
    fn an_empty_department_is_drawn_without_dividing_by_zero() {
        let bytes = department("市住建局", &Counts::default(), &font()).unwrap();
        let (info, _) = decode(&bytes);
        assert_eq!((info.width, info.height), SIZE);
    }

    #[test]
    fn a_missing_font_names_every_path_tried() {
        let err = ChartFont::search(&["/nonexistent/a.ttc", "/nonexistent/b.ttf"]).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("/nonexistent/a.ttc") && text.contains("/nonexistent/b.ttf"),
            "{text}"
        );
        let err = ChartFont::load(Some(Path::new("/nonexistent/c.ttf"))).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/c.ttf"), "{err}");
    }

    #[test]
    fn a_file_that_is_no_font_is_refused() {
        let err = ChartFont::from_static(b"not a font at all", "test bytes").unwrap_err();
        assert!(matches!(err, FontError::Invalid { .. }), "{err}");
    }
}
