DROP TABLE evaluation_export_creches;
DROP TABLE evaluation_exports;
