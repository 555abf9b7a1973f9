//! weir-jobs: job definitions (YAML) turned into dataflow graphs, and the built-in job kinds.
//! Built with the job-file issue.
