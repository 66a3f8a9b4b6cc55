//! Paths as URI references, for SARIF artifact locations and CycloneDX properties.
//!
//! Virtual paths inside images (`fw.tar.gz!/boot/qnx.ifs!/proc/boot/libc.so.3`) keep their
//! `!` readable: it is a sub-delimiter, legal in a path segment, and the usual mark of a
//! member inside an archive (`jar:`-style). Everything outside `unreserved`, the
//! sub-delimiters, `@` and `/` is percent-encoded byte by byte (UTF-8), `:` included, so
//! that a first segment such as `a:b` is never read as a scheme.

/// Percent-encodes a path (relative or absolute) as the path part of a URI reference. Report
/// paths are escaped names (`badalloc_formats::names`): the name's own bytes are encoded, so a file
/// named with byte 0xff is `%FF`, and a backslash `%5C`.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for &b in &badalloc_formats::names::unescape_name(path) {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
                    | b'/'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A path inside a target as a relative reference: leading slashes dropped, since a
/// reference starting with `//` would name an authority and `/` would escape the base.
pub fn relative_ref(path: &str) -> String {
    let p = path.trim_start_matches('/');
    if p.is_empty() {
        ".".to_string()
    } else {
        encode_path(p)
    }
}

/// The base URI of a directory given on the command line: `file:///abs/dir/` for an
/// absolute path, else the relative reference `dir/` (the report does not know the
/// working directory, and a renderer of it does not look).
pub fn directory_base(dir: &str) -> String {
    let trimmed = dir.trim_end_matches('/');
    if dir.starts_with('/') {
        format!("file://{}/", encode_path(trimmed))
    } else if trimmed.is_empty() || trimmed == "." {
        "./".to_string()
    } else {
        format!("{}/", encode_path(trimmed))
    }
}

/// Splits a target PATH that names a file (an ELF file, an image) into its directory and
/// its file name; the directory becomes the base URI, the name the first segment.
pub fn split_file(path: &str) -> (&str, &str) {
    let trimmed = path.trim_end_matches('/');
    match trimmed.rfind('/') {
        Some(0) => ("/", &trimmed[1..]),
        Some(i) => (&trimmed[..i], &trimmed[i + 1..]),
        None => (".", trimmed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_bang_and_encodes_the_rest() {
        assert_eq!(
            encode_path("fw.tar.gz!/boot/qnx.ifs!/proc/boot/libc.so.3"),
            "fw.tar.gz!/boot/qnx.ifs!/proc/boot/libc.so.3"
        );
        assert_eq!(encode_path("a b%c#d?e"), "a%20b%25c%23d%3Fe");
        assert_eq!(encode_path("a:b/é"), "a%3Ab/%C3%A9");
    }

    #[test]
    fn bases() {
        assert_eq!(directory_base("/mnt/fw/"), "file:///mnt/fw/");
        assert_eq!(directory_base("fixtures/x"), "fixtures/x/");
        assert_eq!(directory_base("."), "./");
        assert_eq!(split_file("/a/b/fw.bin"), ("/a/b", "fw.bin"));
        assert_eq!(split_file("fw.bin"), (".", "fw.bin"));
        assert_eq!(relative_ref("/proc/boot/x"), "proc/boot/x");
    }
}
