//! The `ocr` section: whether and how the pixels of images and image-only
//! PDF pages are read (docs/containers.md#ocr-images-and-image-only-pdf-pages).
//! Each key but `dpi` has a command-line twin of `scan` (`--ocr`,
//! `--ocr-timeout`, `--ocr-min-side`, `--ocr-lang`) that wins over the
//! file; the daemon takes them from the file only.

use serde::Deserialize;

use super::Section;
use super::limits::HumanDuration;
use crate::extract::helper::ocr::{OcrMode, OcrSettings};

/// The `ocr` section of `leakhound.yaml`; unset keys keep the defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ocr {
    /// `auto` (OCR when Tesseract is installed), `off`, `on` (refuse to
    /// start without it).
    pub mode: Option<OcrMode>,
    /// Time for the OCR of one image or of one PDF's pages (`60s`).
    pub timeout: Option<HumanDuration>,
    /// Images narrower or lower than this many pixels are not read.
    pub min_side: Option<u32>,
    /// Tesseract languages joined by `+` (`eng+pol`).
    pub lang: Option<String>,
    /// The resolution image-only PDF pages are rendered at for OCR.
    pub dpi: Option<u32>,
}

/// Lowest and highest rendering resolution: below 100 dpi digits blur, above
/// 600 a page is a bigger image than the OCR gains from.
pub const DPI_RANGE: std::ops::RangeInclusive<u32> = 100..=600;

impl Ocr {
    /// These settings over `base`.
    pub fn apply(&self, mut base: OcrSettings) -> OcrSettings {
        if let Some(v) = self.mode {
            base.mode = v;
        }
        if let Some(v) = self.timeout {
            base.timeout = v.0;
        }
        if let Some(v) = self.min_side {
            base.min_side = v;
        }
        if let Some(v) = &self.lang {
            base.lang = v.clone();
        }
        if let Some(v) = self.dpi {
            base.dpi = v;
        }
        base
    }
}

impl Section for Ocr {
    fn problems(&self) -> Vec<String> {
        let mut out = Vec::new();
        if let Some(t) = self.timeout
            && t.0 < std::time::Duration::from_secs(1)
        {
            out.push("ocr.timeout must be at least 1s".to_string());
        }
        if let Some(lang) = &self.lang
            && (lang.is_empty()
                || !lang.split('+').all(|l| {
                    !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                }))
        {
            out.push(
                "ocr.lang must be Tesseract language names joined by `+` (e.g. eng+pol)"
                    .to_string(),
            );
        }
        if let Some(dpi) = self.dpi
            && !DPI_RANGE.contains(&dpi)
        {
            out.push(format!(
                "ocr.dpi must be between {} and {}",
                DPI_RANGE.start(),
                DPI_RANGE.end()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_apply_over_the_defaults_and_bad_values_are_named() {
        let ocr: Ocr = serde_saphyr::from_str(
            "mode: off\ntimeout: 20s\nmin_side: 40\nlang: eng+pol\ndpi: 400\n",
        )
        .unwrap();
        assert!(ocr.problems().is_empty());
        let s = ocr.apply(OcrSettings::default());
        assert_eq!(s.mode, OcrMode::Off);
        assert_eq!(s.timeout, std::time::Duration::from_secs(20));
        assert_eq!((s.min_side, s.lang.as_str(), s.dpi), (40, "eng+pol", 400));
        let bad: Ocr = serde_saphyr::from_str("lang: \"eng; rm\"\ndpi: 20\ntimeout: 0s\n").unwrap();
        let problems = bad.problems().join("\n");
        for key in ["ocr.lang", "ocr.dpi", "ocr.timeout"] {
            assert!(problems.contains(key), "{problems}");
        }
        assert!(serde_saphyr::from_str::<Ocr>("engine: /bin/sh\n").is_err());
    }
}
