\set n random(1, 20000)
select count(*) from printmq_mark_dispatched('t', jsonb_build_array((select id from ids where n = :n)), now());
