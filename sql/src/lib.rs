//! weir-sql: SQL over the lake (Delta tables) with DataFusion. Built in the SQL issue.
