//! An ETL writer (being written).
