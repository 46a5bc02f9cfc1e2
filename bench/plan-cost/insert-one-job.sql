select count(*) from printmq_insert_jobs('t', jsonb_build_array(jsonb_build_object('id', gen_random_uuid(), 'branch_id', 'b1', 'printer_id', 'p1',
  'content', '{"type":"text","text":"Table 12"}'::jsonb, 'copies', 1, 'correlation_id', 'c', 'expires_at', now() + interval '1 day')), now(), false);
