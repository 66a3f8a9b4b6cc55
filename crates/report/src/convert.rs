//! The audit's model into the wire types, once per report, by value: the strings and
//! vectors of a scan's thousands of binaries are moved, not copied.

use badalloc_audit_core::model as m;

use crate::wire::*;

fn all<A, B: From<A>>(v: Vec<A>) -> Vec<B> {
    v.into_iter().map(B::from).collect()
}

impl From<Vec<m::Target>> for Report {
    fn from(targets: Vec<m::Target>) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            targets: all(targets),
        }
    }
}

impl From<m::Target> for TargetReport {
    fn from(t: m::Target) -> TargetReport {
        TargetReport {
            path: t.path,
            kind: t.kind.as_str().to_string(),
            verdict: t.verdict,
            reasons: t.reasons,
            os: t.os.into(),
            libc: all(t.libc),
            binaries: all(t.binaries),
            symlinks: all(t.symlinks),
            images: all(t.images),
            errors: all(t.errors),
            stats: t.stats.into(),
            exposure: all(t.exposure),
            mitigations: t.mitigations,
        }
    }
}

impl From<m::Exposure> for ExposureReport {
    fn from(e: m::Exposure) -> ExposureReport {
        ExposureReport {
            path: e.path,
            score: e.score,
            calloc: e.reach.map(|r| r.as_str().to_string()),
            network: e.network,
            started_by: e.started_by,
            named_service: e.named_service,
        }
    }
}

impl From<m::Os> for OsReport {
    fn from(os: m::Os) -> OsReport {
        OsReport {
            family: os.family.map(|f| f.as_str().to_string()),
            release: os.release,
            release_range: os.release_range,
            confidence: os.confidence,
            evidence: all(os.evidence),
            conflicts: os.conflicts,
        }
    }
}

impl From<m::EvidenceItem> for EvidenceItem {
    fn from(e: m::EvidenceItem) -> EvidenceItem {
        EvidenceItem {
            source: e.source,
            kind: e.kind.as_str().to_string(),
            detail: e.detail,
        }
    }
}

impl From<m::Libc> for LibcReport {
    fn from(l: m::Libc) -> LibcReport {
        LibcReport {
            path: l.path,
            soname: l.soname,
            arch: l.arch,
            version: l.version,
            qnx: l.qnx,
            calloc: l.calloc.into(),
            sha256: l.sha256,
        }
    }
}

impl From<m::CallocFinding> for CallocReport {
    fn from(c: m::CallocFinding) -> CallocReport {
        CallocReport {
            verdict: c.verdict,
            function: c.function,
            address: c.address,
            reason: c.reason,
            chain: c.chain,
            chain_links: c.chain_links.into_iter().map(ChainLink::from).collect(),
            evidence: lines(c.evidence),
            location: c.location.map(CallocLocation::from),
        }
    }
}

impl From<m::CallocLocation> for CallocLocation {
    fn from(l: m::CallocLocation) -> CallocLocation {
        CallocLocation {
            by: l.by.as_str().to_string(),
            confidence: l.confidence,
            identified_as: l.identified_as.as_str().to_string(),
            evidence: lines(l.evidence),
        }
    }
}

impl From<m::CallocSearch> for CallocSearchReport {
    fn from(s: m::CallocSearch) -> CallocSearchReport {
        CallocSearchReport {
            outcome: s.outcome.as_str().to_string(),
            detail: s.detail,
            candidates: s.candidates,
            probed: s.probed,
            calloc_like: all(s.calloc_like),
        }
    }
}

impl From<m::Binary> for BinaryReport {
    fn from(b: m::Binary) -> BinaryReport {
        BinaryReport {
            path: b.path,
            arch: b.arch,
            elf_type: b.elf_type,
            interpreter: b.interpreter,
            needed: b.needed,
            libc: b.libc,
            qnx: b.qnx,
            imports_calloc: b.imports_calloc,
            imports_malloc: b.imports_malloc,
            imports_realloc: b.imports_realloc,
            static_calloc: b.static_calloc.map(CallocReport::from),
            network: b.network,
            network_imports: b.network_imports,
            stripped_static: b.stripped_static,
            calloc_search: b.calloc_search.map(CallocSearchReport::from),
            located_by_address: all(b.located_by_address),
            sha256: b.sha256,
        }
    }
}

impl From<m::LocatedByAddress> for LocatedByAddress {
    fn from(l: m::LocatedByAddress) -> LocatedByAddress {
        LocatedByAddress {
            segment: l.segment,
            address: l.address,
            recorded_offset: l.recorded_offset,
            offset_used: l.offset_used,
        }
    }
}

impl From<m::Image> for ImageReport {
    fn from(i: m::Image) -> ImageReport {
        ImageReport {
            path: i.path,
            kind: i.kind.as_str().to_string(),
            offset: i.offset,
            entries: i.entries,
            notes: all(i.notes),
            boot_script: i.boot_script,
            state: i.state,
            same_content: all(i.same_content),
        }
    }
}

impl From<m::ImageNote> for ImageNote {
    fn from(n: m::ImageNote) -> ImageNote {
        let kind = match n.kind {
            m::NoteKind::Other(name) => name,
            known => known.as_str().to_string(),
        };
        ImageNote {
            kind,
            detail: n.detail,
            offset: n.offset,
        }
    }
}

impl From<m::SameContent> for SameContent {
    fn from(s: m::SameContent) -> SameContent {
        SameContent {
            path: s.path,
            same_as: s.same_as,
        }
    }
}

impl From<m::Symlink> for SymlinkReport {
    fn from(s: m::Symlink) -> SymlinkReport {
        SymlinkReport {
            path: s.path,
            target: s.target,
        }
    }
}

impl From<m::ScanError> for ErrorReport {
    fn from(e: m::ScanError) -> ErrorReport {
        ErrorReport {
            path: e.path,
            offset: e.offset,
            kind: e.kind,
            message: e.message,
        }
    }
}

impl From<m::ScanStats> for ScanStats {
    fn from(s: m::ScanStats) -> ScanStats {
        ScanStats {
            files: s.files,
            bytes: s.bytes,
            elf_files: s.elf_files,
            skipped: s.skipped,
            image_files: s.image_files,
            reused_images: s.reused_images,
            opaque_files: s.opaque_files,
        }
    }
}

impl From<m::ChainLink> for ChainLink {
    fn from(l: m::ChainLink) -> ChainLink {
        ChainLink {
            name: l.name,
            address: l.address,
        }
    }
}

impl From<m::EvidenceLine> for EvidenceLine {
    fn from(l: m::EvidenceLine) -> EvidenceLine {
        EvidenceLine {
            address: l.address,
            text: l.text,
        }
    }
}

/// Evidence or listing lines, as the report writes them.
pub(crate) fn lines(v: Vec<m::EvidenceLine>) -> Vec<EvidenceLine> {
    v.into_iter().map(EvidenceLine::from).collect()
}
