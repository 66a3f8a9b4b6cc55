//! CycloneDX rendering (placeholder).
