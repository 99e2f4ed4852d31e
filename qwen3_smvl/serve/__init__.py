"""Stage 4, serve: `swift deploy` around recipes/deploy.sh, its limits for strangers, vLLM's model, the web page."""
