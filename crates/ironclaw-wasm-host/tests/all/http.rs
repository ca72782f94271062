//! HTTP from tools (filled below).
