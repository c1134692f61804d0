"""The emulator's Live API: ``BidiGenerateContent`` over a WebSocket (served over TLS).

Modules, one concept each:

- ``wire``: reading client frames, writing (binary) server frames, close codes;
- ``auth``: API keys and ephemeral tokens on the upgrade request;
- ``tokens`` / ``tokens_api``: ephemeral tokens and ``POST /v1alpha/auth_tokens``;
- ``setup``: the ``setup`` message as a session configuration;
- ``conversation``: history, pending tool calls and buffered realtime input;
- ``turns``: a reply planned from the REST responder, cut into chunks;
- ``resumption``: ``sessionResumption`` handles and their snapshots;
- ``connection``: the turn-taking loop, interruptions, ``goAway`` and faults;
- ``endpoint``: the WebSocket route that ties them together.
"""
