"""What is stored: every table's schema, storage (local folder, S3), the output layout and the
manifest."""
