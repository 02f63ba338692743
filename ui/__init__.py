"""The edges: the `rag` command line and the Gradio web chat."""
