DROP TABLE exit_outcomes;
