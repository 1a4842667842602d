# Reads a Spark event log of `sgdpo bench-train --job-only`: the ParameterAveraging rounds (one
# Spark job each, from ReusingParameterAveragingMaster) and the gaps between them.
import json,sys,statistics as st
def rounds(fn):
    jobs={};stagejob={};tasks={}
    for line in open(fn):
        e=json.loads(line); ev=e['Event']
        if ev=='SparkListenerJobStart':
            name=[si['Stage Name'] for si in e['Stage Infos']]
            jobs[e['Job ID']]={'start':e['Submission Time'],'name':' '.join(name)}
            for s in e['Stage IDs']: stagejob[s]=e['Job ID']
        elif ev=='SparkListenerJobEnd': jobs[e['Job ID']]['end']=e['Completion Time']
        elif ev=='SparkListenerTaskEnd':
            tm=e.get('Task Metrics',{}); ti=e['Task Info']
            tasks.setdefault(stagejob[e['Stage ID']],[]).append((tm.get('Executor Run Time'),ti['Launch Time'],ti['Finish Time']))
    r=[(j,v) for j,v in sorted(jobs.items()) if 'ReusingParameterAveragingMaster' in v['name']]
    dur=[v['end']-v['start'] for j,v in r]
    run=[max(t[0] for t in tasks[j]) for j,v in r]
    gaps=[r[i+1][1]['start']-r[i][1]['end'] for i in range(len(r)-1)]
    gaps_small=[g for g in gaps if g<100]  # exclude chunk boundaries with evaluation etc.
    return len(r),st.median(dur),st.median(run),st.median(gaps_small),sum(dur)/1000,sum(gaps_small)/1000
for fn in sys.argv[1:]:
    n,d,ru,g,sd,sg=rounds(fn)
    print(f"{fn}: rounds {n} median job ms {d} median slower task run ms {ru} median gap ms {g} (gaps<100ms) sum jobs s {sd:.2f} sum small gaps s {sg:.2f}")
