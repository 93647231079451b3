import json, sys, collections
rows=[json.loads(l) for l in open(sys.argv[1])]
S=collections.defaultdict(lambda:[0,0,0,0,0,0])
diff=[]
for r in rows:
    o,n=r['old'],r['new']
    if 'error' in o or 'error' in n: print('ERROR', r['kind'], r['name'], o.get('error'), n.get('error')); continue
    assert o['code'].startswith('/tmp/house_old') and n['code'].startswith('/tmp/house_new')
    keys=[k for k in o if k not in ('cpu','lps','exact_lps','nodes','leaves','positive','message','code')]
    d=[(k,o.get(k),n.get(k)) for k in keys if o.get(k)!=n.get(k)]
    if d: diff.append((r['kind'],r['name'],d))
    s=S[r['kind']]; s[0]+=1; s[1]+=o['cpu']; s[2]+=n['cpu']
    s[3]+= (o.get('nodes'),o.get('lps'))==(n.get('nodes'),n.get('lps')); s[4]+=n.get('certified',True) is True
    s[5]+= o.get('positive')==n.get('positive')
print('| kind | instances | old CPU s | new CPU s | old/new | same nodes & LPs | new certified | same minimising cell |')
print('|---|---|---|---|---|---|---|---|')
for k,(c,o,n,same,cert,pos) in S.items(): print(f'| {k} | {c} | {o:.2f} | {n:.2f} | {o/n:.2f} | {same} | {cert} | {pos if k.startswith("sigma") else ""} |')
print('differences in compared outputs:', diff)
