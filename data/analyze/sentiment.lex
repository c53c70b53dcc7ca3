# Sentiment lexicon (format: docs/analysis.md). "phrase score" with score in [-4, 4];
# phrases of up to 4 words win over single words. "+word delta": booster (delta added to the
# size of the next valence within 2 words; negative dampens). "!word": negator (flips and
# dampens a valence within 3 words, x -0.74). "~word": contrast (words before it count half,
# after it 1.5 times). Contractions are written expanded ("do not").

# --- positive words
good 1.5
great 2.4
excellent 3
amazing 3
awesome 3
fantastic 3
wonderful 3
brilliant 2.8
love 2.6
loved 2.6
loving 2.4
happy 2.2
glad 2
pleased 2
delighted 2.8
excited 2.5
exciting 2.5
interested 1.5
interesting 1.5
intrigued 1.5
helpful 2
useful 1.8
valuable 2
impressive 2.5
impressed 2.5
perfect 2.4
nice 1.5
cool 1.2
fine 0.6
easy 1.5
easier 1.5
simple 1
smooth 1.5
fast 1
faster 1.2
quick 0.8
efficient 1.5
better 1.4
best 2.4
benefit 1.5
benefits 1.5
improve 1.5
improved 1.5
improvement 1.5
success 2
successful 2
win 1.8
wins 1.8
thanks 1
thank 1
appreciate 2
appreciated 2
agree 1.2
agreed 1.2
absolutely 1.2
definitely 1
exactly 0.8
works 0.6
promising 2
compelling 2
solid 1.5
reliable 1.5
recommend 1.5
worth 1.2
fit 0.8
fits 0.8
sure 0.5
yes 0.4
yeah 0.2
okay 0.2
welcome 1
enjoy 2
enjoyed 2
fun 1.8
clear 0.8
saves 1.5
save 1.2
saving 1.2
savings 1.5
growth 1.2
growing 1
powerful 1.8
flexible 1.2
intuitive 1.8
seamless 2
affordable 1.6
reasonable 1
fair 0.8
confident 1.8
comfortable 1
keen 1.6
eager 1.6
thrilled 3
curious 0.8
support 0.5
helps 1.5
help 0.6
relief 1.5
trust 1
# --- negative words
bad -2.5
terrible -3
awful -3
horrible -3
hate -3
hated -3
annoyed -2
annoying -2.2
angry -3
mad -2.5
furious -3.5
frustrated -2.5
frustrating -2.5
frustration -2.5
upset -2.5
disappointed -2.5
disappointing -2.5
unhappy -2.5
problem -1.4
problems -1.6
issue -1
issues -1.2
concern -1
concerns -1.2
concerned -1.5
worried -2
worry -1.5
expensive -1.6
pricey -1.5
costly -1.5
overpriced -2.2
difficult -1.5
hard -1
slow -1.5
slower -1.5
broken -2
broke -1.5
fail -2
failed -2
fails -2
failing -2
failure -2.5
waste -2.2
wasted -2.2
wasting -2.2
useless -3
pointless -2.5
ridiculous -2.5
unacceptable -3
pain -1.8
painful -2.2
nightmare -3
mess -2
messy -1.8
struggle -2
struggling -2
struggled -2
confused -1.5
confusing -1.5
complicated -1.5
clunky -1.8
cumbersome -1.8
tedious -1.8
risk -1
risky -1.5
lost -1.4
lose -1.4
losing -1.5
stop -1
spam -2.5
scam -3.2
pushy -2.5
rude -3
busy -0.6
unfortunately -1.5
sorry -0.4
doubt -1.5
skeptical -1.5
sceptical -1.5
wary -1.3
worse -2.2
worst -3
hassle -1.8
headache -2
bother -1.5
bothering -2
annoyance -2
complaint -1.8
complaints -1.8
angry -3
disaster -3
chaos -2.2
manual -0.6
error -1.2
errors -1.4
mistakes -1.4
churn -1.8
outage -2
outages -2
bug -1.4
bugs -1.6
crash -2
crashing -2
stuck -1.5
tired -1.5
late -0.8
delay -1.2
delays -1.4
expensive -1.6
no -0.3
# --- sales idiom (multi-word)
no brainer 2.6
game changer 3
deal breaker -2.8
dealbreaker -2.8
sounds good 2
sounds great 2.6
sounds interesting 1.8
makes sense 1.2
make sense 1
on the fence -0.8
waste of time -3
leave me alone -3
take me off -2
no thanks -1.5
no thank you -1.5
hard pass -2.5
worth it 1.5
sold on 1.5
big fan 2
looking forward 2
blown away 3
fed up -2.5
over budget -1.5
out of budget -1.5
sticking point -1.8
red flag -2.2
red flags -2.2
pain point -1.8
pain points -1.8
works for me 1.5
that works 1.2
not bad 1.2
not a problem 0.8
no problem 0.8
no worries 0.8
of course 0.6
fair enough 0.6
not interested -2
not a fit -1.5
not for us -1.8
cold call -0.8
kidding me -2
out of business -2
falls through the cracks -2
fall through the cracks -2
behind schedule -1.6
ahead of schedule 1.6
on track 1.2
# --- boosters and dampeners

# --- everyday, review and news words (issue 12): general English valence, VADER-like scale
beautiful 2.9
lovely 2.8
gorgeous 3
pretty 1.2
charming 2.2
cute 2
elegant 2.1
stunning 2.8
marvelous 2.9
marvellous 2.9
terrific 3
superb 3
outstanding 3
splendid 2.8
magnificent 3
incredible 2.5
fabulous 3
remarkable 2.2
wow 2.5
yay 2.4
hooray 2.6
congratulations 2.9
congrats 2.6
cheers 1.5
bravo 2.5
well done 2.5
nicely 1.8
kind 1.8
kindly 1.4
generous 2.3
friendly 2.2
polite 1.6
warm 1.2
sweet 2
gentle 1.4
honest 1.8
brave 2.3
smart 1.7
clever 1.8
wise 1.8
talented 2.3
beloved 2.8
dear 1.6
darling 2.2
favorite 2
favourite 2
liked 1.8
likes 1.4
adore 2.8
adored 2.8
admire 2.2
like it 1.8
enjoyable 2.2
enjoying 2.2
enjoys 2
pleasure 2.4
pleasant 2.3
pleasing 2.1
delightful 2.9
delicious 2.7
tasty 2.1
comfy 1.9
cozy 1.8
cosy 1.8
relaxed 1.8
relaxing 2
calm 1.2
peaceful 2.2
safe 1.6
secure 1.4
healthy 1.7
fresh 1.2
clean 1.4
bright 1.6
cheerful 2.5
joy 2.8
joyful 2.9
funny 1.9
laugh 2
laughing 2
smile 2
smiling 2
smiled 2
hope 1.6
hoped 1.4
hopeful 1.9
hoping 1.2
wish 0.8
luck 1.6
lucky 2.2
fortunate 2
fortunately 1.8
blessed 2.4
grateful 2.5
thankful 2.5
thank you 1.6
gratitude 2.4
proud 2.1
honored 2.3
honoured 2.3
succeed 2.2
succeeded 2.2
winning 2.2
won 1.9
victory 2.6
champion 2.4
achieve 1.8
achieved 1.9
achievement 2.1
accomplish 1.8
accomplished 2
progress 1.6
gain 1.5
gains 1.5
gained 1.4
profit 1.6
profits 1.6
prosper 2
boost 1.5
boosted 1.5
strong 1.5
stronger 1.5
strength 1.6
recover 1.4
recovered 1.5
recovery 1.4
award 2
awarded 2
prize 2
celebrate 2.7
celebrated 2.4
celebration 2.6
holiday 1.5
vacation 1.6
gift 1.9
surprise 1
ideal 2.1
correct 1
true 0.8
convenient 1.8
handy 1.5
nicer 1.8
nicest 2.3
finest 2.5
greatest 2.6
happier 2.3
happiest 2.8
happily 2.2
happiness 2.6
love it 3
in love 2.6
romantic 2.2
miss you 1.2
worthwhile 1.9
glorious 2.9
thrilling 2.5
enthusiastic 2.5
passion 1.8
passionate 2
inspired 2
inspiring 2.3
admirable 2.4
respect 1.8
popular 1.6
famous 1.3
agreeable 1.7
satisfied 1.9
satisfying 2
satisfaction 2
content 1.2
ok 0.5
alright 0.6
all right 0.6
great job 2.8
good job 2.5
good luck 2.2
good news 2.4
bad news -2.4
hell -2.2
damn -1.8
dammit -2
shit -2.6
crap -2.2
stupid -2.4
idiot -2.9
dumb -2.2
silly -1.2
foolish -1.9
crazy -1.4
insane -1.5
boring -1.9
bored -1.8
dull -1.6
ugly -2.3
dirty -1.8
nasty -2.6
gross -2.2
disgusting -3
disgusted -2.8
sick -1.9
ill -1.7
illness -1.8
disease -1.8
hurt -2.3
hurts -2.2
hurting -2.3
injured -2.2
injury -2.1
wound -1.8
wounded -2.2
ache -1.6
fever -1.4
die -2.9
died -2.6
dies -2.6
dying -2.8
dead -3
death -2.9
deaths -2.9
kill -3.5
killed -3.3
killing -3.4
murder -3.7
murdered -3.5
suicide -3.5
war -2.9
wars -2.9
attack -2.1
attacks -2.1
attacked -2.3
bomb -2.5
bombing -2.8
violence -3.1
violent -2.9
terror -3
terrorist -3.2
terrorism -3.2
crisis -2.4
tragedy -3.4
tragic -3.2
catastrophe -3.4
accident -2.1
accidents -2.1
crashed -2
flood -1.8
damage -2.1
damaged -2
destroy -2.8
destroyed -2.8
collapse -2.2
collapsed -2.2
threat -2.4
threats -2.4
threaten -2.4
threatened -2.4
danger -2.4
dangerous -2.1
fear -2.2
fears -2.2
feared -2.2
afraid -2
scared -2.2
scary -2.2
frightened -2.4
terrified -3
panic -2.3
nervous -1.4
anxious -1.7
anxiety -2
stress -1.8
stressed -1.9
stressful -2
sad -2.1
sadly -1.8
sadness -2.2
depressed -2.5
depressing -2.4
lonely -2
cry -2.1
crying -2.2
cried -2.1
tears -1.9
miserable -2.9
misery -2.8
grief -2.5
sorrow -2.4
regret -1.8
regrets -1.8
apologize -0.4
shame -2.1
ashamed -2.1
embarrassed -1.9
embarrassing -2
guilty -1.8
blame -1.4
blamed -1.6
fault -1.6
wrong -2.1
mistake -1.5
trouble -1.7
troubles -1.7
difficulty -1.5
tough -1.2
harsh -1.8
hard times -2
poor -2.1
poverty -2.4
debt -1.5
debts -1.5
loss -1.8
losses -1.8
defeat -2
defeated -2
decline -1.4
declined -1.4
declining -1.5
dropped -1.1
fell -1
plunge -1.8
plunged -1.8
slump -1.9
recession -2.4
unemployment -2
unemployed -2
fired -2
layoffs -2.2
cuts -1.2
shortage -1.8
scandal -2.5
corruption -2.9
corrupt -2.8
fraud -2.9
cheat -2.4
cheated -2.4
lie -1.9
lies -1.9
lied -2.1
liar -2.6
steal -2.4
stole -2.4
stolen -2.3
theft -2.3
thief -2.5
crime -2.5
criminal -2.4
arrest -1.6
arrested -2
prison -2.2
jail -2.1
illegal -2.2
protest -1.3
protests -1.3
riot -2.6
conflict -1.8
fight -1.9
fighting -1.9
fought -1.8
argue -1.6
argument -1.6
quarrel -1.8
enemy -2.3
hatred -3.2
hateful -3.1
dislike -1.8
disliked -1.8
anger -2.7
annoy -2.1
irritated -2.1
irritating -2.1
outrage -2.8
outraged -2.9
upsetting -2.5
disappointment -2.4
dreadful -2.9
poorly -1.8
badly -2.1
unfortunate -1.9
unlucky -1.9
pity -1.3
too bad -1.8
weak -1.7
weakness -1.7
fragile -1.1
exhausted -1.8
hungry -1
thirsty -0.8
noisy -1.3
crowded -1
cheap 0.4
cruel -2.9
selfish -2.2
lazy -1.8
jealous -2
envy -1.3
greedy -2.3
arrogant -2.2
complain -1.9
complained -1.9
complaining -2
refuse -1.5
refused -1.5
reject -1.9
rejected -2
deny -1.3
denied -1.6
ban -1.6
banned -1.8
warning -1.4
warn -1.3
worrying -1.9
worries -1.7
horrified -3
shocked -1.9
shocking -2.2
strange -0.9
weird -0.8
unfair -2.1
hopeless -2.9
helpless -2.2
desperate -2.4
impossible -1.6
awkward -1.4
messed up -2.2
let down -2.1
broken heart -2.7
can not stand -2.5
+very 0.3
+really 0.3
+extremely 0.45
+super 0.3
+so 0.2
+incredibly 0.45
+totally 0.3
+too 0.3
+quite 0.15
+truly 0.3
+especially 0.2
+hugely 0.4
+highly 0.3
+most 0.2
+slightly -0.3
+somewhat -0.2
+barely -0.4
+kinda -0.2
+fairly -0.15
+little -0.2
+bit -0.2
# --- negators
!not
!never
!none
!nothing
!neither
!nor
!without
!hardly
!nobody
!cannot
!isnt
# --- contrast
~but
~however
~although
~though
~except
