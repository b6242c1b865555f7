//! `duban contacts import FILE.csv`: validates every row, then replaces the stored contacts in one transaction (nothing half-imported).
