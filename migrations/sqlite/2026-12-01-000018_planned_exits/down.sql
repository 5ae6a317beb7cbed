DROP TABLE planned_exits;
