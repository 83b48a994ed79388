//! Extraction tests: real archives and mail built in the test, hostile inputs.
