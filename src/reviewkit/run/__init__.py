"""Running a pack: the orchestrator, notebook execution, export, the publish gate and the atomic publish."""
