//! Per-file facts: everything the verdict needs from one ELF file, owned, so the file's
//! bytes can be released as soon as it has been examined.

use crate::kernel::find_kernel_release;
pub use crate::kernel::KernelRelease;
use crate::model::{
    CallocFinding, CallocLocation, CallocSearch, Confidence, EvidenceLine, Identified, LocatedBy,
};
use badalloc_calloc::locate::{locate, needs_search, Search, SearchOutcome};
use badalloc_calloc::signature::{self, Signature, Window};
use badalloc_elf::{ElfFile, ElfType, OffsetMismatch, SymbolSource};

/// Imports that make a binary network-facing (BlackBerry: exploitation needs an exposed service).
pub const SOCKET_API: &[&str] = &[
    "socket", "bind", "listen", "accept", "accept4", "connect", "recv", "recvfrom", "recvmsg",
    "recvmmsg",
];

/// Marks that tie a file to QNX. One is enough to call the file QNX; glibc's `libc.so.6` has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QnxMarker {
    /// PT_INTERP names QNX's runtime linker (`/usr/lib/ldqnx.so.2`, `ldqnx-64.so.2`...).
    Interpreter(String),
    /// A note named "QNX".
    Note,
    /// A `QNX_info` section.
    QnxInfo,
    /// The kernel's "QNX Version %s Release %s" banner with a release string.
    Kernel,
    /// A compiler target string such as `i486-pc-nto-qnx6.5.0`.
    CompilerTarget(String),
    /// The dynamic symbols (which the loader reads) define or import Neutrino kernel calls
    /// (`MsgSend`, `ConnectAttach`...): what marks a C library or program whose section
    /// table is damaged or gone and which has no QNX note or interpreter.
    KernelCalls,
}

/// Neutrino kernel calls, which no other system's C library defines or programs import.
pub const NEUTRINO_KERNEL_CALLS: &[&str] = &[
    "ChannelCreate",
    "ChannelDestroy",
    "ConnectAttach",
    "ConnectDetach",
    "InterruptAttach",
    "InterruptAttachEvent",
    "MsgDeliverEvent",
    "MsgError",
    "MsgReceive",
    "MsgReply",
    "MsgSend",
    "MsgSendPulse",
    "MsgSendv",
    "ThreadCtl",
];

/// Distinct kernel calls that make the marker: one name alone could be a coincidence.
const MIN_KERNEL_CALLS: usize = 2;

/// Does the dynamic symbol table name at least [`MIN_KERNEL_CALLS`] Neutrino kernel calls?
fn names_kernel_calls(elf: &ElfFile<'_>) -> bool {
    let mut seen: Vec<&str> = Vec::new();
    for s in elf
        .symbols
        .iter()
        .filter(|s| s.source == SymbolSource::Dynamic)
    {
        if NEUTRINO_KERNEL_CALLS.contains(&s.name) && !seen.contains(&s.name) {
            seen.push(s.name);
            if seen.len() >= MIN_KERNEL_CALLS {
                return true;
            }
        }
    }
    false
}

/// What one ELF file says about the device.
#[derive(Debug, Clone)]
pub struct FileFacts {
    /// Path inside the target (virtual path for files inside images).
    pub path: String,
    pub arch: String,
    pub elf_type: ElfType,
    pub interpreter: Option<String>,
    pub soname: Option<String>,
    pub needed: Vec<String>,
    pub markers: Vec<QnxMarker>,
    pub qnx_info: Vec<(String, String)>,
    /// `QNX_info` was read from the bytes past the loaded image: the section table is
    /// damaged or absent.
    pub qnx_info_without_sections: bool,
    pub comment: Vec<String>,
    pub kernel: Option<KernelRelease>,
    pub imports_calloc: bool,
    pub imports_malloc: bool,
    pub imports_realloc: bool,
    /// Socket API functions imported.
    pub network_imports: Vec<String>,
    /// Statically linked (no interpreter, no dynamic section).
    pub is_static: bool,
    /// Has a `.symtab` (needed to find a static copy of calloc).
    pub has_symtab: bool,
    /// This file is a C library (SONAME, or file name, `libc.so.N`).
    pub is_libc: bool,
    /// The calloc this file carries (exported by a libc, or a static copy), analysed.
    pub calloc: Option<CallocFinding>,
    /// A stripped static program: the search for its calloc (see [`add_calloc_search`]).
    pub calloc_search: Option<CallocSearchFacts>,
    /// A named calloc's code (each function of its chain), to be looked for in the
    /// target's stripped programs.
    pub calloc_signatures: Vec<Signature>,
    /// Segments read at their address because their recorded file offset disagrees.
    pub offset_mismatches: Vec<OffsetMismatch>,
    /// Parts of the file that could not be read.
    pub warnings: Vec<crate::FormatError>,
    /// SHA-256 of the file's bytes (lowercase hex), set by the scan, which has the bytes
    /// at hand once; None where nobody asked (`inspect`).
    pub sha256: Option<String>,
}

impl FileFacts {
    pub fn is_qnx(&self) -> bool {
        !self.markers.is_empty()
    }

    /// The name other binaries need this library by: its SONAME, else its file name.
    pub fn library_name(&self) -> &str {
        self.soname
            .as_deref()
            .unwrap_or_else(|| self.path.rsplit(['/', '!']).next().unwrap_or(&self.path))
    }

    /// The libc this binary is linked against, or "static".
    pub fn linked_libc(&self) -> Option<String> {
        if let Some(l) = self.needed.iter().find(|n| is_libc_name(n)) {
            return Some(l.clone());
        }
        (self.is_static && self.elf_type == ElfType::Executable).then(|| "static".to_string())
    }
}

/// `libc.so`, `libc.so.3`...: the C library's names on QNX and elsewhere.
pub fn is_libc_name(name: &str) -> bool {
    let base = name.rsplit('/').next().unwrap_or(name);
    base == "libc.so"
        || base
            .strip_prefix("libc.so.")
            .is_some_and(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit() || b == b'.'))
}

/// Does a `.comment` string name a QNX compiler target (`*-nto-qnx6.5.0`, `[qnx700 ...]`)?
pub fn qnx_compiler_target(comment: &str) -> Option<String> {
    if let Some(pos) = comment.find("nto-qnx") {
        let start = comment[..pos]
            .rfind(|c: char| c.is_whitespace() || c == '(' || c == '[')
            .map_or(0, |p| p + 1);
        let end = comment[pos..]
            .find(|c: char| c.is_whitespace() || c == ')' || c == ']')
            .map_or(comment.len(), |e| pos + e);
        return Some(comment[start..end].to_string());
    }
    comment.find("[qnx").map(|pos| {
        let end = comment[pos..]
            .find([' ', ']'])
            .map_or(comment.len(), |e| pos + e);
        comment[pos + 1..end].to_string()
    })
}

/// Extract the facts of one parsed ELF file. `calloc` is the analysis result, computed by the
/// caller only where a calloc exists.
pub fn facts_of(path: &str, elf: &ElfFile<'_>, calloc: Option<CallocFinding>) -> FileFacts {
    let mut markers = Vec::new();
    if let Some(interp) = elf.interpreter.filter(|i| i.contains("ldqnx")) {
        markers.push(QnxMarker::Interpreter(interp.to_string()));
    }
    if elf.qnx_note.is_some() {
        markers.push(QnxMarker::Note);
    }
    if !elf.qnx_info.is_empty() {
        markers.push(QnxMarker::QnxInfo);
    }
    for c in &elf.comment {
        if let Some(t) = qnx_compiler_target(c) {
            if !markers.contains(&QnxMarker::CompilerTarget(t.clone())) {
                markers.push(QnxMarker::CompilerTarget(t));
            }
        }
    }
    // Only looked for when nothing else marks the file: a QNX file usually has a note or
    // an interpreter, and this walks every dynamic symbol.
    if markers.is_empty() && names_kernel_calls(elf) {
        markers.push(QnxMarker::KernelCalls);
    }
    let file_name = path.rsplit('/').next().unwrap_or(path);
    // The kernel is statically linked (or a relocatable object in SDK trees): only such files
    // are searched for the release string, which keeps triage cheap.
    let kernel = if !elf.has_dynamic && elf.interpreter.is_none() {
        find_kernel_release(elf.data, file_name.starts_with("procnto"))
    } else {
        None
    };
    if kernel.is_some() {
        markers.push(QnxMarker::Kernel);
    }
    let imports: Vec<&str> = elf.imports().collect();
    let network_imports = SOCKET_API
        .iter()
        .filter(|f| imports.contains(f))
        .map(|f| f.to_string())
        .collect();
    let soname = elf.soname.map(str::to_string);
    let is_libc = elf.elf_type == ElfType::SharedObject
        && soname
            .as_deref()
            .map_or_else(|| is_libc_name(file_name), is_libc_name);
    FileFacts {
        path: path.to_string(),
        arch: elf.arch_name(),
        elf_type: elf.elf_type,
        interpreter: elf.interpreter.map(str::to_string),
        soname,
        needed: elf.needed.iter().map(|s| s.to_string()).collect(),
        markers,
        qnx_info: elf.qnx_info.clone(),
        qnx_info_without_sections: elf.qnx_info_without_sections,
        comment: elf.comment.clone(),
        kernel,
        imports_calloc: imports.contains(&"calloc"),
        imports_malloc: imports.contains(&"malloc"),
        imports_realloc: imports.contains(&"realloc"),
        network_imports,
        is_static: elf.is_static(),
        has_symtab: elf.symbols.iter().any(|s| s.source == SymbolSource::SymTab),
        is_libc,
        calloc,
        calloc_search: None,
        calloc_signatures: Vec::new(),
        offset_mismatches: elf.offset_mismatches.clone(),
        warnings: elf.warnings.clone(),
        sha256: None,
    }
}

/// What the search for calloc found in a stripped static program, kept until the named
/// callocs of the whole target are known ([`apply_calloc_signatures`]).
#[derive(Debug, Clone)]
pub struct CallocSearchFacts {
    pub report: CallocSearch,
    /// The code at the entries of functions that multiply their first two arguments.
    pub windows: Vec<Window>,
}

/// Complete the facts of one parsed file with what the calloc search needs: the signature
/// of its named calloc, or, for a statically linked program without symbols, the search
/// for its copy of calloc by behaviour. Decoder panics on hostile bytes become a warning.
pub fn add_calloc_search(facts: &mut FileFacts, elf: &ElfFile<'_>) {
    if let Some(c) = facts
        .calloc
        .as_ref()
        .filter(|c| c.located_by() == LocatedBy::Symbol)
    {
        let path = &facts.path;
        facts.calloc_signatures = badalloc_elf::guard::contain(|| {
            c.chain_links
                .iter()
                .filter_map(|l| {
                    let addr = parse_hex(&l.address)?;
                    signature::signature_of(elf, addr, &l.name, c.verdict, &c.reason, path)
                })
                .collect()
        })
        .unwrap_or_default();
        return;
    }
    if !needs_search(elf) {
        return;
    }
    let Some(search) =
        badalloc_elf::guard::contain(|| badalloc_calloc::ir::with_text(false, || locate(elf)))
    else {
        facts.warnings.push(crate::FormatError {
            offset: None,
            kind: crate::ErrorKind::Unsupported,
            message: "search for calloc aborted: the machine-code decoder failed (internal panic)"
                .into(),
        });
        return;
    };
    let (calloc, search) = search_facts(search);
    facts.calloc = calloc;
    facts.calloc_search = Some(search);
}

fn search_facts(s: Search) -> (Option<CallocFinding>, CallocSearchFacts) {
    let calloc = s
        .calloc
        .as_ref()
        .map(|l| CallocFinding::located(l, LocatedBy::Behaviour));
    let report = CallocSearch::of(&s);
    (
        calloc,
        CallocSearchFacts {
            report,
            windows: s.windows,
        },
    )
}

fn parse_hex(a: &str) -> Option<u64> {
    u64::from_str_radix(a.trim_start_matches("0x"), 16).ok()
}

/// The address of the function a calloc report's chain ends in (the one that multiplies).
fn body_of(c: &CallocFinding) -> Option<u64> {
    parse_hex(&c.chain_links.last()?.address)
}

/// The address of calloc's entry in a report.
fn entry_of(c: &CallocFinding) -> Option<u64> {
    parse_hex(c.address.as_deref()?)
}

/// The search by known code, once every file of a target has been read: the code of each
/// named calloc (in path order) is looked for in the target's stripped static programs of
/// the same architecture. A match is that program's calloc, located by signature: decided
/// by its own analysis when the search by behaviour analysed it, else by the named copy's
/// (the code is the same).
pub fn apply_calloc_signatures(facts: &mut [FileFacts]) {
    let mut sigs: Vec<Signature> = Vec::new();
    for s in facts.iter().flat_map(|f| &f.calloc_signatures) {
        if !sigs.iter().any(|o| o.bytes == s.bytes && o.keep == s.keep) {
            sigs.push(s.clone());
        }
    }
    if sigs.is_empty() {
        return;
    }
    for f in facts.iter_mut() {
        let Some(search) = f.calloc_search.as_mut() else {
            continue;
        };
        let Some((sig, i)) = signature::find(&search.windows, &sigs, &f.arch) else {
            continue;
        };
        let Some(w) = search.windows.get(i) else {
            continue;
        };
        let line = EvidenceLine {
            address: format!("{:#x}", w.entry),
            text: format!(
                "its code is that of {} at {:#x} in {} ({} bytes compared, {} of them call \
                 targets or addresses that differ from link to link)",
                sig.function,
                sig.address,
                sig.source,
                sig.bytes.len() - sig.masked(),
                sig.masked()
            ),
        };
        let mut found = match f.calloc.take() {
            Some(c) if body_of(&c) == Some(w.entry) || entry_of(&c) == Some(w.entry) => c,
            other => {
                // A calloc-like function, or code the search by behaviour did not analyse.
                let like = search
                    .report
                    .calloc_like
                    .iter()
                    .position(|c| body_of(c) == Some(w.entry));
                let mut c = match like {
                    Some(k) => search.report.calloc_like.remove(k),
                    None => inherited(sig, w),
                };
                if let Some(mut demoted) = other {
                    if let Some(l) = demoted.location.as_mut() {
                        l.identified_as = Identified::CallocLike;
                        l.confidence = Confidence::Low;
                    }
                    search.report.calloc_like.insert(0, demoted);
                }
                rename_first(&mut c, "calloc");
                c
            }
        };
        let mut evidence = found
            .location
            .take()
            .map(|l| l.evidence)
            .unwrap_or_default();
        evidence.insert(0, line);
        found.location = Some(CallocLocation {
            by: LocatedBy::Signature,
            confidence: Confidence::Medium,
            identified_as: Identified::Calloc,
            evidence,
        });
        search.report.outcome = SearchOutcome::Found;
        search.report.detail = format!(
            "calloc located by signature at {:#x} (the code of {} in {})",
            w.entry, sig.function, sig.source
        );
        f.calloc = Some(found);
    }
}

/// A copy found only by its code: decided as the named calloc it matches was.
fn inherited(sig: &Signature, w: &Window) -> CallocFinding {
    let address = format!("{:#x}", w.entry);
    CallocFinding {
        verdict: sig.verdict,
        function: Some("calloc".into()),
        address: Some(address.clone()),
        reason: format!(
            "decided from the same code in {} ({}): {}",
            sig.source, sig.function, sig.reason
        ),
        chain: vec!["calloc".into()],
        chain_links: vec![crate::model::ChainLink {
            name: "calloc".into(),
            address,
        }],
        evidence: Vec::new(),
        location: None,
    }
}

fn rename_first(c: &mut CallocFinding, name: &str) {
    if let Some(l) = c.chain_links.first_mut() {
        l.name = name.to_string();
    }
    if let Some(n) = c.chain.first_mut() {
        *n = name.to_string();
    }
    if c.chain.len() == 1 {
        c.function = Some(name.to_string());
    }
}

/// Bytes as lowercase hex digits.
pub fn hex_of(digest: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for &b in digest {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_known_bytes_in_hex() {
        use sha2::{Digest, Sha256};
        // FIPS 180-2 test vectors, as the report writes them.
        assert_eq!(
            hex_of(&Sha256::digest(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex_of(&Sha256::digest(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(hex_of(&[0x00, 0x0f, 0xf0, 0xff]), "000ff0ff");
    }

    #[test]
    fn libc_names() {
        assert!(is_libc_name("libc.so.3"));
        assert!(is_libc_name("/lib/libc.so.6"));
        assert!(is_libc_name("libc.so"));
        assert!(!is_libc_name("libcrypto.so.1"));
        assert!(!is_libc_name("libc.so.3.bak"));
    }

    #[test]
    fn compiler_targets() {
        assert_eq!(
            qnx_compiler_target("GCC: (GNU) 4.4.2 i486-pc-nto-qnx6.5.0").as_deref(),
            Some("i486-pc-nto-qnx6.5.0")
        );
        assert_eq!(
            qnx_compiler_target("GCC: (GNU) 5.4.0 [qnx700 branch]").as_deref(),
            Some("qnx700")
        );
        assert_eq!(qnx_compiler_target("GCC: (Debian 12.2.0-14) 12.2.0"), None);
    }
}
