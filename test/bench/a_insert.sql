\set u random(1, 9000)
\set r random(1, 1000000000000)
INSERT INTO quota.ledger (pool, user_id, kind, amount, model, service, request_id, input_tokens, cached_input_tokens, output_tokens, original_cost, discount_rate, final_cost) VALUES ('Students Pool', 'student' || :u, 'charge', -0.0012, 'model-2', 'chat', 'a' || :client_id || '-' || :r, 1200, 0, 300, 0.0015, 0.8, 0.0012);
