set -u; export PYTHONUNBUFFERED=1; R=$OUT/probe; mkdir -p $R
lim() { local n=$1 l=$2; shift 2; local t0=$SECONDS; timeout $l "$@" > $R/$n.log 2>&1; echo "$n rc=$? $((SECONDS-t0)) s" | tee -a $R/steps.txt; }
lim synth 60 python3 -m asen synth --size small --out data/SynthFashion --quiet
lim pre 60 python3 -m asen train -c synthfashion_gpu -c synthfashion_gpu_pretrain --set model.pretrained=none --set model.local_pretrained=none --run-dir runs/pre --quiet --device cuda
ls runs/pre/checkpoints
C="-c synthfashion_gpu --set model.pretrained=runs/pre/checkpoints/best.pt --set model.local_pretrained=none --quiet --device cuda"
IB="--set data.sampler=in_batch --set data.images_per_batch=96 --set data.steps_per_epoch=100 --set train.scheduler=cosine"
lim v1_inb_lr1e-3 60 python3 -m asen train $C $IB --set train.lr=1e-3 --run-dir runs/v1
lim v2_inb_lr1e-4 60 python3 -m asen train $C $IB --set train.lr=1e-4 --run-dir runs/v2
lim v3_inb_lr3e-3 60 python3 -m asen train $C $IB --set train.lr=3e-3 --run-dir runs/v3
lim v4_rand_lr1e-3 60 python3 -m asen train $C --set train.lr=1e-3 --run-dir runs/v4
for v in pre v1 v2 v3 v4; do cp runs/$v/log.jsonl $R/$v.jsonl 2>/dev/null; done
lim pipe16 100 python3 -m benchmarks.gpu_check --skip-run-py --batch-triplets 16 --data data/SynthFashion --results $R/check16
cat $R/steps.txt; tail -n 3 $R/*.jsonl; grep -h "img/s" $R/pipe16.log
