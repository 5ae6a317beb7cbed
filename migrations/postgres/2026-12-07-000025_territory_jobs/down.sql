DROP TABLE freed_places;
DROP TABLE job_marks;
