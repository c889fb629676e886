\set u random(1, 9000)
\set r random(1, 1000000000000)
INSERT INTO naive_ledger (pool, user_id, kind, amount, model, service, request_id, input_tokens, cached_input_tokens, output_tokens, price_id, original_cost, discount_rate, final_cost, balance_after) VALUES ('Students Pool', 'student' || :u, 'charge', -0.0018, 'model-2', 'chat', 'a' || :client_id || '-' || :r, 1200, 0, 300, 2, 0.00225, 0.8, 0.0018, 8999999999.9982);
