-- 20,000 queued jobs; `ids` numbers them for pgbench.
select count(*) from printmq_insert_jobs('t', (select jsonb_agg(jsonb_build_object('id', gen_random_uuid(), 'branch_id', 'b1',
  'printer_id', 'p1', 'content', '{"type":"text","text":"Table 12"}'::jsonb, 'copies', 1, 'correlation_id', 'c',
  'expires_at', now() + interval '1 day')) from generate_series(1, 20000)), now(), false);
create table ids as select id, row_number() over () as n from print_jobs;
create index on ids (n);
analyze;
