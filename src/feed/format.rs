//! The feed files every generation contains, and their names on the wire.

use std::fmt;
use std::str::FromStr;

/// One encoding of a shop's feed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedFormat {
    /// OpenAI flat feed, JSON Lines, gzip.
    OpenAiJsonlGz,
    /// OpenAI flat feed, CSV, gzip.
    OpenAiCsvGz,
    /// OpenAI flat feed, TSV, gzip.
    OpenAiTsvGz,
    /// ACP Feed API Product objects (2026-04-17), JSON Lines.
    AcpJsonl,
}

impl FeedFormat {
    pub const ALL: [FeedFormat; 4] = [
        FeedFormat::OpenAiJsonlGz,
        FeedFormat::OpenAiCsvGz,
        FeedFormat::OpenAiTsvGz,
        FeedFormat::AcpJsonl,
    ];

    /// File name under `/feeds/{shop}/` and the stored artifact name.
    pub fn file_name(self) -> &'static str {
        match self {
            FeedFormat::OpenAiJsonlGz => "openai.jsonl.gz",
            FeedFormat::OpenAiCsvGz => "openai.csv.gz",
            FeedFormat::OpenAiTsvGz => "openai.tsv.gz",
            FeedFormat::AcpJsonl => "acp.jsonl",
        }
    }

    /// The CLI spelling (`--format openai-jsonl-gz`).
    pub fn cli_name(self) -> &'static str {
        match self {
            FeedFormat::OpenAiJsonlGz => "openai-jsonl-gz",
            FeedFormat::OpenAiCsvGz => "openai-csv-gz",
            FeedFormat::OpenAiTsvGz => "openai-tsv-gz",
            FeedFormat::AcpJsonl => "acp-jsonl",
        }
    }

    /// Name of the stored artifact. The ACP form is stored gzip-compressed
    /// (it is about 1 KB per row uncompressed, and sled's memory and disk use
    /// grow with the bytes it holds) and decompressed when served.
    pub fn stored_name(self) -> &'static str {
        match self {
            FeedFormat::AcpJsonl => "acp.jsonl.gz",
            other => other.file_name(),
        }
    }

    /// Whether the stored artifact is a gzip of what [`Self::file_name`]
    /// names (as opposed to the file itself being a `.gz`).
    pub fn stored_gzipped(self) -> bool {
        matches!(self, FeedFormat::AcpJsonl)
    }

    pub fn content_type(self) -> &'static str {
        match self {
            FeedFormat::OpenAiJsonlGz | FeedFormat::OpenAiCsvGz | FeedFormat::OpenAiTsvGz => {
                "application/gzip"
            }
            FeedFormat::AcpJsonl => "application/jsonl",
        }
    }

    pub fn from_file_name(name: &str) -> Option<FeedFormat> {
        FeedFormat::ALL.into_iter().find(|f| f.file_name() == name)
    }
}

impl fmt::Display for FeedFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.cli_name())
    }
}

impl FromStr for FeedFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        FeedFormat::ALL
            .into_iter()
            .find(|f| f.cli_name() == s || f.file_name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown format `{s}` (one of: {})",
                    FeedFormat::ALL.map(FeedFormat::cli_name).join(", ")
                )
            })
    }
}
