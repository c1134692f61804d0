"""The adversarial suite: fuzzing, hostile clients, isolation, SSRF, secrets, outages, crashes."""
