"""Solutions to the chapters' exercises, one module per chapter, embedded on the pages."""
