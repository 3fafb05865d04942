//! Every hook limit is exact and every refusal is named and traced (the hook contract, docs/hooks.md).
