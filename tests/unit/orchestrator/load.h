/* What the orchestrator suites share: a project loaded from YAML text. */
#ifndef ZP_TEST_ORCH_LOAD_H
#define ZP_TEST_ORCH_LOAD_H

struct compose_project;

/* Load yaml as compose.yaml of a temporary directory (removed again), as project name
 * (NULL: the file's name or the directory's), with PATH as the only environment. Fails the
 * test on any error, after printing the diagnostics. */
struct compose_project *orcht_load_yaml(const char *name, const char *yaml);

#endif
