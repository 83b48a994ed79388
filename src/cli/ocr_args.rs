//! The `--ocr` options of `scan` (and `baseline create`): whether and how
//! the pixels of images and image-only PDF pages are read, resolved into
//! the process's OCR settings before the scan starts.

use std::time::Duration;

use clap::Args;

use crate::extract::helper::ocr::{self, OcrMode, OcrSettings};

/// OCR options; see docs/containers.md#ocr.
#[derive(Debug, Args, Clone, Default)]
#[command(next_help_heading = "OCR (text in images and image-only PDF pages)")]
pub struct OcrArgs {
    /// auto: read images with Tesseract when it is installed, else report
    /// them partial ("no OCR engine"); on: refuse to start without it;
    /// off: do not read pixels (images are partial) [default: auto].
    #[arg(long, value_enum, value_name = "MODE")]
    pub ocr: Option<OcrMode>,
    /// Time for the OCR of one image (all pages of a TIFF) or of one PDF's
    /// pages, e.g. 30s [default: 60s].
    #[arg(long, value_name = "DURATION")]
    pub ocr_timeout: Option<crate::config::limits::HumanDuration>,
    /// Images narrower or lower than this are not OCR'd (icons, spacers):
    /// too small to hold a legible number [default: 16].
    #[arg(long, value_name = "PIXELS")]
    pub ocr_min_side: Option<u32>,
    /// Tesseract languages, joined by `+` (e.g. eng+pol) [default: eng].
    #[arg(long, value_name = "LANGS")]
    pub ocr_lang: Option<String>,
}

/// `--ocr on` without an OCR engine.
#[derive(Debug, thiserror::Error)]
#[error(
    "--ocr on, but no OCR engine was found (looked for {paths} and ${env}): \
     install tesseract-ocr, or use --ocr auto",
    paths = ocr::ENGINE_PATHS.join(", "),
    env = ocr::ENGINE_ENV
)]
pub struct NoEngine;

impl OcrArgs {
    /// Resolves the options, over the configuration file's `ocr` section
    /// (`file`), into the process's OCR settings.
    pub fn apply(&self, file: &crate::config::ocr::Ocr) -> Result<(), NoEngine> {
        let d = file.apply(OcrSettings::default());
        let settings = OcrSettings {
            mode: self.ocr.unwrap_or(d.mode),
            timeout: self
                .ocr_timeout
                .map_or(d.timeout, |t| t.0.max(Duration::from_secs(1))),
            min_side: self.ocr_min_side.unwrap_or(d.min_side),
            lang: self.ocr_lang.clone().unwrap_or(d.lang.clone()),
            ..d
        };
        if settings.mode == OcrMode::On && settings.engine.is_none() {
            return Err(NoEngine);
        }
        ocr::set_settings(settings);
        Ok(())
    }
}
