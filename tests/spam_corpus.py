"""A corpus of contact posts for the spam scorer (lib/factoryops/spam.py): HAM, what
plant engineers, maintenance heads, plant managers and buyers write to an AI-for-factories
company, none of which may be quarantined; SPAM, the kinds of form spam such sites receive,
of which at least 95% must be.

The HAM leans on what spam vocabulary shares with plant vocabulary: credit notes and
credit periods, a trading company, equipment on loan, a data link, a visitor escort,
back-dated records, PPC cement, funding approved for a pilot, a payment on hold, a bank's
business loan, a vendor portal's KYC request, drawings shared by a secure link, an
insurance claims agent, links to a sender's own site and datasheets, a Google Maps link to
a plant, Hindi in Latin script, messages in capitals. The SPAM is as varied: SEO,
guest-post and review sellers, web redesign, app development and staffing pitches, lead
lists and form-blast ads, crypto, loans, casinos and betting, dating and pharmacy links,
fake invoices, account and mailbox notices behind shorteners, lottery and advance-fee
frauds, bare links, URLs for names, Russian and Chinese spam, look-alike letters and bold
Unicode that dodge filters.

`tests/test_spam.py` checks the rates; `bench/spam_corpus.py` prints them, with the spam
that got through.
"""

from __future__ import annotations

HAM: list[dict[str, str]] = [
    {
        "name": "Rajesh Kulkarni",
        "company": "Bharat Forge Ltd",
        "message": (
            "We run 14 forging presses at our Chakan plant and want to pilot predictive "
            "maintenance on the hydraulic power units first. Vibration sensors (SKF) are "
            "already fitted on 6 of them. Can you share indicative pricing for a 3-month "
            "pilot and the data you would need from us?"
        ),
    },
    {
        "name": "Anita Desai",
        "company": "Mahindra & Mahindra, Nashik",
        "message": (
            "Hi, can your OEE module pull cycle counts directly from Siemens S7-1500 PLCs "
            "over OPC UA, or do we need a gateway? The line has 9 stations. Please also "
            "confirm it works without internet, our plant network is air-gapped."
        ),
    },
    {
        "name": "Sunil Patil",
        "company": "Tata AutoComp Systems - Purchase",
        "message": (
            "Dear Sir,\nPlease send your best quotation for AI visual inspection on 2 lines, "
            "including hardware (cameras, lighting, edge PC), installation, 1 year AMC and "
            "operator training. Our payment terms are 30 days credit from the date of "
            "invoice. Kindly mention GST separately.\n\nRegards,\nSunil Patil\nPurchase Dept."
        ),
    },
    {
        "name": "Meera Iyer",
        "company": "Sundaram Clayton",
        "message": (
            "Our company site is https://www.sundaramclayton.com - we make aluminium "
            "die-cast parts for two-wheelers. Interested in your energy monitoring for the "
            "melting and holding furnaces (ISO 50001 surveillance audit next March). Who can "
            "I speak to in Chennai?"
        ),
    },
    {
        "name": "Thomas Becker",
        "company": "Kessler Antriebstechnik GmbH",
        "message": (
            "Hello, we are evaluating condition monitoring for our gearbox test benches. Our "
            "company: https://www.kessler-antriebe.de. The sensor we use is described here: "
            "https://www.kessler-antriebe.de/downloads/KA-VS200-datasheet.pdf (IEPE, 100 "
            "mV/g). Can your platform ingest 25.6 kHz raw waveforms or only RMS values? We "
            "would need hosting in the EU."
        ),
    },
    {
        "name": "Vikram",
        "company": "",
        "message": "need a demo of the OEE dashboard, pls call back on 9822012345",
    },
    {
        "name": "Sandeep Yadav",
        "company": "Yadav Plastics, Rajkot",
        "message": (
            "Namaste ji, hamare paas 22 injection moulding machines hain (Ferromatik aur "
            "JSW). Downtime shift-wise track karna hai. Kya aapka software Hindi mein "
            "reports de sakta hai? Price bhi bata dijiye. Dhanyavaad"
        ),
    },
    {
        "name": "Priya Nair",
        "company": "Apollo Tyres, Chennai",
        "message": (
            "We currently have a thermal camera on loan from a vendor for the curing press "
            "trial, so we could share IR images for your model training. Would a 6-week "
            "proof of concept be possible? Our legal team would need an NDA signed first."
        ),
    },
    {
        "name": "Harish Mehta",
        "company": "Mehta Trading Company",
        "message": (
            "We are a trading company supplying spares to cement plants in Gujarat and would "
            "like to become a channel partner for your predictive maintenance product. What "
            "margins do you offer partners? Our customers include several UltraTech and "
            "Ambuja plants."
        ),
    },
    {
        "name": "Dr. Kavita Rao",
        "company": "Granules India Ltd",
        "message": (
            "We manufacture APIs, and any system that touches batch data must comply with "
            "FDA 21 CFR Part 11 (audit trails, e-signatures, no back-dating of entries). Is "
            "your quality module validated, and can you provide a validation package "
            "(IQ/OQ/PQ)? Our QA head would like to review it before a site visit."
        ),
    },
    {
        "name": "Ramesh Gupta",
        "company": "Uno Minda",
        "message": (
            "For IATF 16949 we need traceability from each vision inspection result to the "
            "part serial number. Can your system write results back to our MES (Rockwell "
            "FactoryTalk ProductionCentre)? We would also like to know the false reject rate "
            "on shiny machined surfaces."
        ),
    },
    {
        "name": "Joanna Kowalski",
        "company": "Valmet Automotive",
        "message": (
            "Our maintenance orders live in SAP PM (S/4HANA 2021). When your system predicts "
            "a bearing failure, can it raise an M2 notification automatically through an "
            "API, or does a planner have to do it by hand? Phase 1 would cover about 40 "
            "assets."
        ),
    },
    {
        "name": "Arjun Reddy",
        "company": "",
        "message": (
            "Quick question: we publish sensor data over MQTT (Mosquitto broker, JSON "
            "payloads, ~200 tags at 1 Hz). Can your edge agent subscribe directly? Our "
            "historian is AVEVA PI."
        ),
    },
    {
        "name": "Li Wei",
        "company": "Jiangsu Huaxin Cement",
        "message": (
            "Hello, we run WinCC SCADA at two kilns and want to reduce specific energy "
            "consumption (kWh/t clinker). Do you have a reference in cement? We can host a "
            "site visit in April."
        ),
    },
    {
        "name": "Suresh Babu",
        "company": "Ashok Leyland, Hosur Unit II",
        "message": (
            "Can your team visit our Hosur plant next week, Tuesday or Wednesday? We would "
            "like to walk you through the paint shop and the compressor house. Kindly "
            "confirm the names of who will come so that security can arrange gate passes and "
            "a visitor escort."
        ),
    },
    {
        "name": "Karthik Subramanian",
        "company": "TVS Motor Company",
        "message": (
            "We have a Profinet data link between the PLC and the robot cell controller, and "
            "the PLC link to SCADA goes through a Moxa switch. Where would your gateway sit? "
            "Do you also support Modbus TCP for the older Schneider M340 PLCs?"
        ),
    },
    {
        "name": "Michael O'Brien",
        "company": "Kerry Group - Listowel",
        "message": (
            "What does per-asset pricing look like above 500 assets? We are comparing three "
            "vendors for a global rollout (12 sites) and need a budgetary number by the end "
            "of the month. Is a SOC 2 Type II report available?"
        ),
    },
    {
        "name": "Anjali Sharma",
        "company": "Hindalco Industries",
        "message": (
            "Before we share any pot-line data our legal team needs a mutual NDA. Can you "
            "send your template, or should we send ours? You can reach me at "
            "anjali.sharma@adityabirla.com or on +91 22 6662 6666."
        ),
    },
    {
        "name": "Prakash Jadhav",
        "company": "Kirloskar Brothers Ltd",
        "message": (
            "Need a quote for vibration monitoring on 18 pumps: motors 75 kW, 1480 rpm, "
            "bearings 6316 C3 / NU316. Existing 4-20 mA transmitters go to a Siemens S7-300 "
            "(CPU 315-2DP). Can you read these through the PLC or do we need new sensors?"
        ),
    },
    {
        "name": "Sarah Mitchell",
        "company": "Cargill Protein",
        "message": (
            "Hi there, I manage reliability for 4 beef plants in the US Midwest. Ammonia "
            "refrigeration compressors (Frick screw units) are our biggest downtime driver. "
            "Do you have ammonia refrigeration experience? Happy to do a call this week."
        ),
    },
    {
        "name": "Deepak Chauhan",
        "company": "JK Lakshmi Cement",
        "message": (
            "Our power bill is about Rs 18 crore a year. We are looking at your energy "
            "monitoring for the compressors and ID fans. Can you do an ROI estimate first? "
            "Also, what would the investment be for 60 meters (Schneider PM5350 on Modbus "
            "RTU)?"
        ),
    },
    {
        "name": "Lakshmi Venkatesh",
        "company": "Rane Brake Lining",
        "message": (
            "Received your proforma invoice, thank you. Our finance team asks whether you "
            "can issue a credit note for the unused training days from last year's pilot and "
            "adjust it against the new PO. Please advise."
        ),
    },
    {
        "name": "Ahmed Khan",
        "company": "Emirates Global Aluminium",
        "message": "Do you have a partner or an office in the UAE?",
    },
    {
        "name": "R K SINGH",
        "company": "SINGH ENGINEERING WORKS",
        "message": (
            "PLEASE SEND BROCHURE AND PRICE LIST FOR MACHINE MONITORING SYSTEM. WE HAVE 12 "
            "CNC MACHINES WITH FANUC CONTROLS. CALL ON MOBILE AFTER 6 PM."
        ),
    },
    {
        "name": "Rohit Malhotra",
        "company": "Malhotra Cables Pvt Ltd",
        "message": (
            "Sharing our website https://malhotracables.in and a short video of the "
            "extrusion line fault we keep seeing: "
            "https://drive.google.com/file/d/1pXk7Qm2Lz9vR4tYbN0cW3eJ5sHdA8uFo/view . The "
            "diameter drifts every 40 minutes or so. Can your system catch this before the "
            "scrap piles up?"
        ),
    },
    {
        "name": "Fatima Sheikh",
        "company": "Cipla Ltd, Goa",
        "message": (
            "We are trying to standardise the OEE calculation across 3 packaging lines "
            "(blister, bottle and carton). Do you exclude planned changeovers from "
            "availability or not? We would like to see how your tool handles this before we "
            "book a demo."
        ),
    },
    {
        "name": "Jürgen Weiß",
        "company": "BASF Schwarzheide GmbH",
        "message": (
            "Can you read from an AspenTech IP.21 historian? About 15,000 tags. We would "
            "start with 3 heat exchangers for fouling prediction."
        ),
    },
    {
        "name": "Manoj Pawar",
        "company": "Shree Ganesh Castings",
        "message": (
            "Sir hamara foundry Kolhapur mein hai, 3 induction furnace hain. Bijli ka bill "
            "bahut zyada aa raha hai. Aapka energy monitoring lagwana hai, kitna kharcha "
            "aayega? Please call karo."
        ),
    },
    {
        "name": "Paolo Rossi",
        "company": "Rossi Automazione Srl",
        "message": (
            "We are a system integrator (Siemens Solution Partner) in northern Italy. "
            "Several of our food and beverage customers ask for predictive maintenance. Do "
            "you have an integrator programme and training for our engineers? Our website: "
            "www.rossiautomazione.it"
        ),
    },
    {
        "name": "Christine Dupont",
        "company": "Saint-Gobain India",
        "message": (
            "Our IT security team needs to know: does the edge device open any inbound "
            "ports? Is data encrypted in transit (TLS 1.2 or later)? Where is the cloud "
            "hosted, and is there an India region for data localisation?"
        ),
    },
    {
        "name": "Venkat Raman",
        "company": "Larsen & Toubro, Hazira",
        "message": (
            "Following up on the call with your team on the 12th. We have got funding "
            "approved for the pilot. Please send the revised SOW with the 4 additional "
            "compressors included."
        ),
    },
    {
        "name": "Rakesh Pandey",
        "company": "Hero MotoCorp, Dharuhera",
        "message": (
            "The dashboard shows OEE of 112% for line 3 since yesterday, looks like the "
            "ideal cycle time was set wrong after the model changeover. Can someone check "
            "urgently? We have a management review tomorrow."
        ),
    },
    {
        "name": "Sneha Kapoor",
        "company": "Maruti Suzuki India Ltd - Procurement",
        "message": (
            "We have floated an RFQ for AI-based visual inspection of weld seams. Vendor "
            "registration and RFQ documents: "
            "https://supplier.marutisuzuki.com/rfq/2025/VI-0147 . Last date for submission "
            "is 15 November; the pre-bid meeting is at Manesar on 4 November."
        ),
    },
    {
        "name": "Gregory Adams",
        "company": "Pfizer Global Supply, Kalamazoo",
        "message": (
            "Interested in anomaly detection for our WFI loop: conductivity, TOC and "
            "temperature. Everything must be GAMP 5 and Part 11 compliant. Do you have "
            "pharma references you can share under NDA?"
        ),
    },
    {
        "name": "Imran Qureshi",
        "company": "Nishat Mills",
        "message": (
            "Your quote is about 30% above the other vendor. If we commit to 2 years, what "
            "discount can you give? Also, can payment be split into 3 instalments?"
        ),
    },
    {
        "name": "Senthil Kumar",
        "company": "KPR Mill Ltd",
        "message": (
            "We have 1,20,000 spindles across 4 units. Ring frame end breaks and compressor "
            "power are our pain points. Kindly arrange a presentation for our MD at "
            "Coimbatore."
        ),
    },
    {
        "name": "Pooja",
        "company": "",
        "message": (
            "hi, can the inspection model detect scratches on anodised aluminium? we make "
            "laptop casings. thx"
        ),
    },
    {
        "name": "Nitin Agarwal",
        "company": "Agarwal Steel Trading Co.",
        "message": (
            "We are steel traders and also run a small rolling mill in Mandi Gobindgarh. Can "
            "you give us a 45 days credit period? We are interested in predictive "
            "maintenance for the mill stand motors and the reheating furnace blowers."
        ),
    },
    {
        "name": "Kiran Joshi",
        "company": "Forbes Marshall",
        "message": (
            "Our boiler efficiency project is partly financed by a SIDBI energy efficiency "
            "loan, and the bank needs a measurement and verification report (IPMVP Option "
            "B). Can your energy module produce M&V reports for the before/after comparison?"
        ),
    },
    {
        "name": "Ravi Shankar",
        "company": "JSW Steel, Vijayanagar Works",
        "message": (
            "Hello team,\n\nWe are planning condition monitoring for 120 critical motors in "
            "the hot strip mill: mostly ABB and Siemens, 200 kW to 2 MW. Today we do "
            "route-based vibration readings once a month and still get 3-4 unplanned "
            "failures a year.\n\nWe would like to understand:\n1. Wired vs wireless sensors, "
            "and what you recommend near the furnaces (ambient up to 60 C).\n2. Integration "
            "with SAP PM for work orders.\n3. How long the model needs before the alerts are "
            "reliable.\n4. Pricing for a 20-motor pilot.\n\nRegards,\nRavi Shankar\nHead - "
            "Electrical Maintenance\nM: +91 98450 12345 | E: ravi.shankar@jsw.in | www.jsw.in"
        ),
    },
    {
        "name": "Takeshi Yamamoto",
        "company": "Denso Kirloskar Industries",
        "message": (
            "We would like to know the detection accuracy for solder joint defects. We can "
            "provide 2,000 NG images and 10,000 OK images. Please tell us the schedule for a "
            "trial."
        ),
    },
    {
        "name": "Linda Park",
        "company": "Hyundai Motor India, Sriperumbudur",
        "message": (
            "Could you share a case study on press shop die wear prediction? Our management "
            "wants evidence of ROI before approving a pilot."
        ),
    },
    {
        "name": "Vivek Menon",
        "company": "Deloitte India - Operations Consulting",
        "message": (
            "We are advising a client (auto ancillary, 5 plants) on Industry 4.0 vendors. "
            "Could we get a 30-minute walkthrough of your platform and reference pricing? "
            "Happy to sign an NDA."
        ),
    },
    {
        "name": "Rahul Verma",
        "company": "Amara Raja Batteries",
        "message": (
            "I came across your website while looking for formation line monitoring. We have "
            "300+ chargers for battery formation and want to detect failing channels early. "
            "Do you have experience with this?"
        ),
    },
    {
        "name": "S. Ramachandran",
        "company": "Bharat Heavy Electricals Ltd, Haridwar",
        "message": (
            "BHEL Haridwar has published an open tender for predictive analytics on turbine "
            "blade machining centres. The tender document is on the CPP portal: "
            "https://eprocure.gov.in/eprocure/app?page=FrontEndLatestActiveTenders&service=pa"
            "ge . Bid due date is 28th. Please go through the eligibility criteria (MSE / "
            "startup exemptions apply)."
        ),
    },
    {
        "name": "Aditya Deshpande",
        "company": "Piaggio Vehicles, Baramati",
        "message": (
            "Budget for phase 1 is around Rs 15 lakh. Scope: 25 CNC machines, OEE and "
            "spindle load monitoring. Can you do it within this, or should we reduce the "
            "scope?"
        ),
    },
    {
        "name": "Gurpreet Singh",
        "company": "Sonalika Tractors",
        "message": (
            "Our plant location for the site visit: "
            "https://maps.app.goo.gl/7hQzK2pXwVbN3mRt8 . Reach the main gate by 10 am and "
            "ask for me at security; I will arrange your entry."
        ),
    },
    {
        "name": "Elena Petrova",
        "company": "Magna Cosma, Graz",
        "message": (
            "We are assessing AI vision for stamping defects (splits, necking) at the press "
            "line exit. Line speed is 15 strokes per minute, parts up to 1.8 m. Could you "
            "send a budgetary offer and a reference in automotive stamping?"
        ),
    },
    {
        "name": "Mohammed Rafi",
        "company": "Bharat Petroleum, Kochi Refinery",
        "message": (
            "We have about 400 rotating assets with Bently Nevada System 1. Can your "
            "platform take data from System 1 and add prediction, or do you replace it? Any "
            "refinery reference in India?"
        ),
    },
    {
        "name": "Ankit Jain",
        "company": "Jain Irrigation Systems",
        "message": (
            "bhai quick one - OEE software ka monthly subscription hai ya one-time license? "
            "8 extrusion lines hain. Jaldi batao, management meeting Monday ko hai."
        ),
    },
    {
        "name": "Sophie Laurent",
        "company": "Danone, Lait Production",
        "message": (
            "Hello, we would like to monitor the energy of our CIP systems and the spray "
            "dryer. Can your tool report steam and electricity per tonne of powder? We are "
            "preparing for ISO 50001 certification."
        ),
    },
    {
        "name": "Dinesh Kumar",
        "company": "Wheels India Ltd",
        "message": (
            "We manufacture steel wheels and have a Kistler press-fit monitor on each line. "
            "Can your software read its results (XML export over FTP) and correlate them "
            "with the welding parameters? We can share sample files."
        ),
    },
    {
        "name": "Olivia Hughes",
        "company": "Rolls-Royce Submarines",
        "message": (
            "Please note that anything we share is export controlled. Before any technical "
            "discussion we need to know whether your platform can be deployed fully "
            "on-premises with no outbound connection, and whether your staff can be security "
            "cleared."
        ),
    },
    {
        "name": "Hemant Bhosale",
        "company": "Vibrotech Sensors Pvt Ltd",
        "message": (
            "We manufacture wireless vibration and temperature sensors (BLE and LoRaWAN) and "
            "would like to explore an integration with your platform, so that our customers "
            "can see our data in your dashboards. Is there an API for third-party sensors? "
            "Our product sheet: https://vibrotech.in/products/VT-300.pdf"
        ),
    },
    {
        "name": "Farhan Siddiqui",
        "company": "Asian Paints, Khandala",
        "message": (
            "We are betting on predictive maintenance to cut our unplanned stops by half "
            "this year. What does a typical rollout timeline look like for 150 assets, from "
            "sensors to first alerts?"
        ),
    },
    {
        "name": "Rekha Nambiar",
        "company": "Kerala Minerals and Metals Ltd",
        "message": (
            "Our payment to you for the pilot is on hold until the site acceptance test is "
            "signed. Could you please schedule the SAT before the 20th so that our accounts "
            "team can release it?"
        ),
    },
    {
        "name": "Ganesh Murthy",
        "company": "Toyota Boshoku Automotive India",
        "message": (
            "Hi, we're a Tier-1 supplier to Toyota Kirloskar. Our quality manager wants to "
            "see your vision system's MSA / gauge R&R study results. Also please share your "
            "company profile and GST certificate for vendor registration."
        ),
    },
    {
        "name": "Sunita Rao",
        "company": "BHEL - Materials Management",
        "message": (
            "Sir, please share the technical offer and commercial offer separately as per "
            "our format. Delivery period, warranty, and payment terms (30% advance, 70% "
            "against delivery) must be mentioned. Last date Friday."
        ),
    },
    {
        "name": "Mikko Virtanen",
        "company": "Stora Enso Oulu",
        "message": (
            "Hello, I'm a maintenance planner at a paper mill in Finland (Stora Enso). We're "
            "interested in predictive maintenance for our dryer section bearings, 120 "
            "positions. Do you support SKF Enlight or IMx-8 data?"
        ),
    },
    {
        "name": "Arvind Kamath",
        "company": "Thermax Ltd",
        "message": (
            "Can you do a webinar for our maintenance engineers on predictive maintenance "
            "basics? About 40 attendees from 3 plants. Please share available dates and any "
            "cost."
        ),
    },
    {
        "name": "Ritu Saxena",
        "company": "Mahle Anand Filter Systems",
        "message": (
            "We got your contact from the CII Industry 4.0 summit. Please send the "
            "presentation you showed, and the case study on compressed air leaks."
        ),
    },
    {
        "name": "Karthikeyan S",
        "company": "Sri Murugan Machine Tools",
        "message": (
            "Our dealer network in Tamil Nadu wants to resell your OEE product to small "
            "machine shops. Please share the dealer price list, margins and the marketing "
            "material."
        ),
    },
    {
        "name": "Harjit Singh",
        "company": "Avon Cycles Components",
        "message": (
            "Dear team, we are an MSME in Ludhiana making bicycle parts. Can we apply for "
            "the government subsidy (SAMARTH Udyog) for your system? Please send a quotation "
            "in our company name for the loan / subsidy file."
        ),
    },
    {
        "name": "Neeraj",
        "company": "",
        "message": (
            "I have 3 questions: 1) is data stored in India? 2) can we export to Excel? 3) "
            "what is the cost per user per month? Please reply by email, thanks."
        ),
    },
    {
        "name": "Rohan Fernandes",
        "company": "United Spirits, Aurangabad",
        "message": (
            "Hey! Saw your LinkedIn post about the OEE dashboard. We run 6 bottling lines "
            "(Krones). Can we book a demo next Tuesday 3 pm IST? Link to our plant intro "
            "video: https://youtu.be/abc123XYZ"
        ),
    },
    {
        "name": "Alok Sinha",
        "company": "Adani Wilmar",
        "message": (
            "Please find our RFQ on our supplier portal https://sourcing.adani.com/rfq/7781 "
            "and the technical specification at "
            "https://sourcing.adani.com/docs/7781-spec.pdf. Kindly click on the link to "
            "register as a vendor before bidding."
        ),
    },
    {
        "name": "Vishal Patil",
        "company": "Precision Forge",
        "message": (
            "Our company website is www.precisionforge.co.in and our YouTube channel has "
            "videos of the press line. I noticed your website mentions die wear prediction. "
            "Do you have a reference customer in forging?"
        ),
    },
    {
        "name": "SHIFT INCHARGE",
        "company": "MINDA CORP LINE 2",
        "message": (
            "URGENT: LINE 2 DASHBOARD NOT UPDATING SINCE MORNING SHIFT. PLEASE CALL THE "
            "PLANT IMMEDIATELY ON 0124 4567890."
        ),
    },
    {
        "name": "Pankaj Bansal",
        "company": "Jindal Saw",
        "message": (
            "We are preparing a capex investment proposal for the board and need your "
            "budgetary quote with ROI calculation. Our CFO wants to know if we can lease the "
            "hardware or take it on EMI."
        ),
    },
    {
        "name": "Meenakshi Iyer",
        "company": "TVS Srichakra",
        "message": (
            "Please unsubscribe me from your newsletter, but keep me on the list for product "
            "updates about the quality inspection module."
        ),
    },
    {
        "name": "Kavya Reddy",
        "company": "Dr. Reddy's Laboratories",
        "message": (
            "We're evaluating AI for tablet coating defects (chipping, twinning). Our line "
            "runs 3 lakh tablets an hour. Is your system fast enough, and has it been used "
            "in a GMP environment?"
        ),
    },
    {
        "name": "Marco Bianchi",
        "company": "Brembo S.p.A.",
        "message": (
            "Good morning, we would like information on thermal imaging analysis of brake "
            "disc castings. Could you tell me if you have a distributor in Italy or work "
            "directly?"
        ),
    },
    {
        "name": "Abhishek Tiwari",
        "company": "Ultratech Cement, Awarpur",
        "message": (
            "Kiln shell scanner data we already have from a third party system. Can your "
            "platform take that data (OPC DA, old server) and give early warning of "
            "refractory failure? We lost 4 days last year."
        ),
    },
    {
        "name": "Jennifer Walsh",
        "company": "Procter & Gamble, Hyderabad",
        "message": (
            "Following up on our conversation at the expo. Please send the mutual NDA and "
            "the pilot proposal for the diaper line. Our procurement contact is in cc on my "
            "email, I will forward it."
        ),
    },
    {
        "name": "Rajiv Menon",
        "company": "",
        "message": (
            "Is there a free version or a trial for 1 machine? We are a small tool room with "
            "4 VMCs, can't spend big now. Thanks"
        ),
    },
    {
        "name": "Naveen Kumar",
        "company": "Brakes India",
        "message": (
            "Hello team, our IT asks if the software supports single sign-on with Azure AD "
            "and role-based access. Also, do you keep audit logs for 3 years?"
        ),
    },
    {
        "name": "Sakshi Gupta",
        "company": "Havells India",
        "message": (
            "We're looking at energy monitoring for 5 plants and want to compare with our "
            "current vendor. Please send your pricing slabs and what is included in the "
            "annual maintenance. We can give you access to our existing meter list (around "
            "900 meters)."
        ),
    },
    {
        "name": "Hiroshi Tanaka",
        "company": "Yazaki India",
        "message": (
            "Harness crimp height monitoring is our main interest. Our crimp machines are "
            "Komax. Please let us know your experience with Komax data interface."
        ),
    },
    {
        "name": "Bilal Ahmed",
        "company": "Fauji Fertilizer",
        "message": (
            "Can you share your references in fertilizer or petrochemical plants? We need "
            "predictive maintenance for our syngas compressor train (Elliott, steam turbine "
            "driven)."
        ),
    },
    {
        "name": "Preeti Shah",
        "company": "Zydus Lifesciences - Engineering",
        "message": (
            "Our engineering head asked me to get 3 quotes for HVAC energy optimisation in "
            "the oral solid dosage block. Please share a budgetary offer and a sample "
            "report. Our plant is in Ahmedabad, site visit can be arranged on weekdays."
        ),
    },
    {
        "name": "Tom Fischer",
        "company": "Bosch Rexroth",
        "message": (
            "We are an automation supplier and some of our customers asked about your "
            "product. Could we talk about a technology partnership? Our hydraulic units have "
            "IO-Link sensors; maybe there is a fit."
        ),
    },
    {
        "name": "Suresh Iyer",
        "company": "",
        "message": (
            "pls send the price list and the brochure to my mail id. we have 2 plants in "
            "hosur. urgent requirement"
        ),
    },
    {
        "name": "Yogesh Kale",
        "company": "Sandvik Coromant, Pune",
        "message": (
            "We want to predict tool wear on our grinding machines using spindle power and "
            "acoustic emission. Do you have a model for this, or would it be a custom "
            "development? Rough cost and timeline please."
        ),
    },
    {
        "name": "Amina Yusuf",
        "company": "Dangote Cement, Obajana",
        "message": (
            "Good afternoon. We operate 6 kiln lines in Nigeria and are looking for a "
            "predictive maintenance partner for our raw mills and coolers. Do you work in "
            "Africa? What support model do you offer for remote sites?"
        ),
    },
    {
        "name": "Rajendra Prasad",
        "company": "NTPC Ltd, Ramagundam",
        "message": (
            "Boiler tube leakage prediction is our main interest. We have DCS data (ABB "
            "Symphony Plus) for 10 years. Kindly share whether your platform can use "
            "historical data for training and the hardware needed."
        ),
    },
    {
        "name": "Claire Dubois",
        "company": "Michelin, Chennai",
        "message": (
            "Hello, please share the link to your data processing agreement and your "
            "sub-processor list. Our legal team needs them before the pilot contract."
        ),
    },
    {
        "name": "Pradeep",
        "company": "Pradeep Engineering Works",
        "message": (
            "sir we are job shop, 8 lathe 3 vmc. OEE software cost for small company? any "
            "govt scheme support? pls reply in whatsapp 98450 22110"
        ),
    },
    {
        "name": "Andreas Müller",
        "company": "Krones AG Service",
        "message": (
            "We service filling lines at breweries in India and would like to offer your "
            "monitoring to our customers as part of our service contracts. Is white "
            "labelling possible, or only co-branding?"
        ),
    },
    {
        "name": "Shalini Verma",
        "company": "Bajaj Auto, Chakan",
        "message": (
            "Attaching the link to our line layout (https://bajajauto.box.com/s/k29dj3) for "
            "the quality inspection stations. Please review and suggest camera positions "
            "before Monday's meeting."
        ),
    },
    {
        "name": "Gopal Krishnan",
        "company": "Indian Oil Corporation, Panipat Refinery",
        "message": (
            "We have an ongoing tender for reliability analytics. The corrigendum extending "
            "the date to 30th is on our website. Please check and submit your bid through "
            "the GeM portal."
        ),
    },
    {
        "name": "Lucas Oliveira",
        "company": "WEG Equipamentos",
        "message": (
            "We manufacture electric motors and want to embed condition monitoring in our "
            "motor scan product. Would you license your algorithms to an OEM? Let's schedule "
            "a call with our product team."
        ),
    },
    {
        "name": "Nisha Pillai",
        "company": "Cochin Shipyard",
        "message": (
            "Our welding shop has 60 welding machines. We want to monitor arc-on time and "
            "gas consumption per job. Can your system do this? We'll need a demo at our yard."
        ),
    },
    {
        "name": "Vijay Anand",
        "company": "Saint-Gobain Gyproc",
        "message": (
            "The energy report for March shows a 40% drop at the calciner that is not real, "
            "the meter was replaced on 12 March. Can you correct the baseline and re-issue "
            "the report for our ISO 50001 audit?"
        ),
    },
    {
        "name": "Farida Begum",
        "company": "Bangladesh Steel Re-Rolling Mills",
        "message": (
            "Assalamu alaikum. We are interested in your energy monitoring for our induction "
            "furnaces and rolling mill. Please send the offer in USD with shipping to "
            "Chittagong."
        ),
    },
    {
        "name": "Sreenivas Rao",
        "company": "Penna Cement, Tandur",
        "message": (
            "We produce OPC and PPC grades in two kilns. Can your quality module predict "
            "28-day strength from the 1-day and 3-day results and the raw mix data? We'd "
            "like to discuss at your discretion, any day next week."
        ),
    },
    {
        "name": "Kavitha N",
        "company": "Lucas TVS - Vendor Development",
        "message": (
            "Before we can raise the PO, kindly update your KYC and bank details in our "
            "vendor portal: https://suppliers.lucastvs.com/register . The GST and MSME "
            "certificates can be uploaded there."
        ),
    },
    {
        "name": "Daniel Okafor",
        "company": "Nestle Nigeria, Agbara",
        "message": (
            "I saw your profile on LinkedIn and the talk you gave on OEE. Could we set up a "
            "strategy session with our operations team about a rollout across 3 factories?"
        ),
    },
    {
        "name": "Ramesh Chandra",
        "company": "Marico Ltd",
        "message": (
            "Our Amazon sales have doubled, so the Jalgaon filling lines run 3 shifts now "
            "and breakdowns hurt. Is your predictive maintenance cheaper than an in-house "
            "reliability team of 2 engineers?"
        ),
    },
    {
        "name": "Liam Carter",
        "company": "Ford Otosan",
        "message": (
            "Our legal team says we could get sued if an AI inspection misses a "
            "safety-critical defect. How do you handle liability, and is there a human in "
            "the loop for rejects?"
        ),
    },
    {
        "name": "Mahesh Reddy",
        "company": "Sugar mill, Nizamabad",
        "message": (
            "Breakdown of our mill turbine last season, the insurance claims agent asked for "
            "vibration trend data which we didn't have. We want monitoring before the next "
            "crushing season. Please reply to my private email mahesh.r@gmail.com, my office "
            "mailbox is full."
        ),
    },
    {
        "name": "Ishaan Malik",
        "company": "Sona Comstar",
        "message": (
            "I'll share the CAD models and the defect image set via a secure link once the "
            "NDA is signed. We need fast approval of the drawings from your side too, the "
            "line trial is in 3 weeks."
        ),
    },
    {
        "name": "Farah Naqvi",
        "company": "Shahi Exports (garments)",
        "message": (
            "We are looking for a reliable partner for energy monitoring in our 12 garment "
            "units. Our accounts team uses Tally for bookkeeping; can your reports be "
            "exported in a format Tally can import?"
        ),
    },
    {
        "name": "George Mathew",
        "company": "MRF Tyres, Kottayam",
        "message": (
            "Please unsubscribe my old email from your newsletter and use this one. Also, "
            "what is the status of the quote for the Banbury mixer monitoring?"
        ),
    },
    {
        "name": "Sunil Kumar",
        "company": "SKF Bearings dealer, Coimbatore",
        "message": (
            "Our MSME bank has offered a business loan for technology upgrades at a low "
            "interest rate, so we can finally invest. Please send a formal quotation for 10 "
            "machines with payment in two parts."
        ),
    },
]

SPAM: list[dict[str, str]] = [
    {
        "name": "Mike Jensen",
        "company": "Rank Rocket Digital",
        "message": (
            "Hi there, I was checking factoryopsai.com and noticed it isn't showing up on "
            'the first page of Google for terms like "predictive maintenance software". We '
            "can fix that in 90 days with white-hat on-page work and quality backlinks. "
            "Would you like a free audit?\n\nBest,\nMike"
        ),
    },
    {
        "name": "Emily Clarke",
        "company": "",
        "message": (
            "Hello, I am a freelance writer in the manufacturing niche and would love to "
            "contribute a guest post to your blog. In return I'd only ask for one do-follow "
            "link in the author bio. Topics I can cover: Industry 4.0, lean, IIoT. Let me "
            "know!"
        ),
    },
    {
        "name": "Outreach Team",
        "company": "Publisher Network",
        "message": (
            "We have sponsored post placements on 300+ high DA/DR sites (tech, business, "
            "manufacturing). Prices start at $35 per article. Link insertions in existing "
            "articles are also available. Reply and I'll send over the sheet."
        ),
    },
    {
        "name": "David Miller",
        "company": "",
        "message": (
            "Hey, quick note: your site isn't ranking for most of your keywords and your "
            "competitors are outranking you. I help B2B companies get more organic traffic. "
            "Want me to send a short video showing what to fix?"
        ),
    },
    {
        "name": "Алексей",
        "company": "",
        "message": (
            "Здравствуйте! Предлагаем продвижение вашего сайта \u0432 ТОП Яндекса \u0438 "
            "Google. Прогон по базам, вечные ссылки, рост позиций за 2 недели. Пишите: "
            "seo-top-pro.ru"
        ),
    },
    {
        "name": "Мария",
        "company": "",
        "message": (
            "Добрый день. Размещение статей \u0441 вечными ссылками на трастовых сайтах. "
            "Цены от 500 рублей. Каталог площадок по запросу."
        ),
    },
    {
        "name": "王经理",
        "company": "",
        "message": (
            "您好\uff01我们提供专业SEO优化服务\uff0c快速提升网站排名\uff0c保证谷歌首页\u3002"
            "联系微信\uff1aseo8888"
        ),
    },
    {
        "name": "Jessica Brown",
        "company": "PixelCraft Studios",
        "message": (
            "Hi! I came across your website and thought it could use a modern refresh. We're "
            "a web design agency that has redesigned 400+ sites for B2B companies, all "
            "mobile-friendly and fast-loading. Can I share a free mockup of your new "
            "homepage?"
        ),
    },
    {
        "name": "Arun",
        "company": "WebNexa Solutions",
        "message": (
            "Dear Business Owner, Is your website bringing you enough customers? We offer "
            "website designing, e-commerce development, SEO and social media marketing at "
            "the most affordable price. Packages start at Rs 4,999 only. Call or WhatsApp "
            "9876501234."
        ),
    },
    {
        "name": "Karen White",
        "company": "DataSource B2B",
        "message": (
            "Would you be interested in acquiring an email list of plant managers and "
            "maintenance heads in India? We have 28,500 verified contacts with names, "
            "titles, emails and direct dials. I can send a sample and pricing."
        ),
    },
    {
        "name": "Laura Simmons",
        "company": "",
        "message": (
            "Hi, would you be interested in the attendee list of IMTEX 2025? It includes "
            "42,000 contacts with complete details. Let me know and I'll share the counts "
            "and pricing."
        ),
    },
    {
        "name": "Ryan Cooper",
        "company": "GrowthLoop",
        "message": (
            "We book 15-20 qualified sales meetings a month for industrial AI companies like "
            "yours through cold outreach and LinkedIn automation. You only pay per meeting. "
            "Worth a 10 minute chat?"
        ),
    },
    {
        "name": "Sophia Lee",
        "company": "",
        "message": (
            "Hello friend, I made $4,800 last week on a crypto trading platform my mentor "
            "showed me. Guaranteed returns every Friday and you can withdraw anytime in "
            "USDT. Contact my manager on Telegram to start with just $200."
        ),
    },
    {
        "name": "Airdrop",
        "company": "",
        "message": (
            "Claim your free $ETH airdrop now! Connect your wallet at eth-claim.live before "
            "the snapshot ends."
        ),
    },
    {
        "name": "James Wilson",
        "company": "Wilson Capital",
        "message": (
            "Dear Sir, I represent a private investor who wants to place capital in bitcoin "
            "mining operations in India. Returns of 12% monthly are achievable. Kindly reply "
            "for the investment proposal."
        ),
    },
    {
        "name": "Rahul",
        "company": "",
        "message": (
            "Join our VIP forex signals group: 95% accuracy, 300+ pips every week. Free "
            "trial for 3 days. t.me/forexvipsignals"
        ),
    },
    {
        "name": "Capital Funding Desk",
        "company": "",
        "message": (
            "Congratulations! Your business has been pre-approved for up to $250,000 in "
            "working capital. No collateral, funds in 24 hours. Apply in 2 minutes: "
            "https://quickbizfund.co/apply"
        ),
    },
    {
        "name": "Priya (Loans Dept)",
        "company": "",
        "message": (
            "Dear customer, get an instant personal loan of up to 25 lakh at 10.5% interest. "
            "Instant approval, minimum documents. Apply now: bit.ly/pl-offer-25"
        ),
    },
    {
        "name": "Mark Davis",
        "company": "Business Capital Partners",
        "message": (
            "Hi, we help manufacturing businesses secure equipment financing and merchant "
            "cash advances, even with bad credit. Same-day decisions. Can I send over the "
            "details?"
        ),
    },
    {
        "name": "Lucky Star",
        "company": "",
        "message": (
            "Play at India's no.1 online casino: 200% welcome bonus and 100 free spins on "
            "sign up! Withdraw via UPI in minutes. luckystar-casino.bet"
        ),
    },
    {
        "name": "Cricket King",
        "company": "",
        "message": (
            "IPL 2025 betting tips with 90% accuracy. Daily sure-shot matches, join now and "
            "win big. WhatsApp group link: chat.whatsapp.com/KzXyZ12AbCd"
        ),
    },
    {
        "name": "Raju",
        "company": "",
        "message": (
            "Satta matka fast result, Kalyan open close final ank. 100% fix game. Visit "
            "sattaking-result.in"
        ),
    },
    {
        "name": "Nikhil Sharma",
        "company": "CodeBrew Technologies",
        "message": (
            "Hi, we are a software development company with 120+ developers offering mobile "
            "app development, web development and AI/ML solutions. Hire dedicated developers "
            "at $18/hour. Portfolio: codebrew.io/work, codebrew.io/case-studies, "
            "clutch.co/profile/codebrew"
        ),
    },
    {
        "name": "Ankit",
        "company": "Appsquadz",
        "message": (
            "Looking to build an app like Uber, Zomato or Swiggy? We deliver ready-made "
            "clone apps in 2 weeks at a fraction of the cost. Free consultation: "
            "www.appsclone.io"
        ),
    },
    {
        "name": "Accounts Payable",
        "company": "",
        "message": (
            "Hi, please find invoice INV-20931 for the services rendered. Payment is overdue "
            "by 14 days. View and pay securely here: https://bit.ly/3Fk9Qw2"
        ),
    },
    {
        "name": "PayPal Service",
        "company": "",
        "message": (
            "Your payment of $1,249.00 is on hold. Confirm your details within 24 hours to "
            "release the funds: tinyurl.com/pp-release-2291"
        ),
    },
    {
        "name": "Microsoft 365",
        "company": "",
        "message": (
            'A document was shared with you: "Q3 Purchase Order.pdf". Review document: '
            "https://rb.gy/k2m8xq"
        ),
    },
    {
        "name": "Max",
        "company": "",
        "message": "https://r.slotsgo.xyz/?ref=8812",
    },
    {
        "name": "Jenny",
        "company": "",
        "message": "http://cutt.ly/Pw3xYzA",
    },
    {
        "name": "Bruce",
        "company": "",
        "message": "Hi https://wonderful-deals.shop/",
    },
    {
        "name": "https://seo-pros.net",
        "company": "",
        "message": "Best packages for your business, limited time offer.",
    },
    {
        "name": "Visit www.fastloanz.com",
        "company": "",
        "message": "Hello, we have a new offer for you.",
    },
    {
        "name": "lovely-dates.xyz",
        "company": "lovely-dates.xyz",
        "message": "Meet single women near you tonight, all profiles verified. Sign up free.",
    },
    {
        "name": "Anna",
        "company": "",
        "message": (
            "Lonely tonight? Hot singles in your area are waiting to chat. Verified "
            "profiles, 100% free sign up: https://sweet-meet.site/j7"
        ),
    },
    {
        "name": "Online Pharmacy",
        "company": "",
        "message": (
            "Buy generic medicines without prescription, discreet worldwide shipping, up to "
            "80% off. Order now: rx-cheap-meds.store"
        ),
    },
    {
        "name": "Funding Team",
        "company": "",
        "message": (
            "Business funding approved: $85,000 has been reserved in your company's name. "
            "Reply YES to claim before Friday. Reply STOP to opt out."
        ),
    },
    {
        "name": "Oliver Grant",
        "company": "",
        "message": (
            "Hi FactoryOps team, I'm an SEO consultant. I ran a quick audit of your site: 38 "
            "broken links, slow page speed and missing meta descriptions. I'd be happy to "
            "send the full report free of charge."
        ),
    },
    {
        "name": "Zara",
        "company": "SocialBoost",
        "message": (
            "Grow your LinkedIn and Instagram with 10K real followers and engagement every "
            "month. Packages from $49. See samples: socialboost.co/pricing"
        ),
    },
    {
        "name": "Tom Baker",
        "company": "Motion Labs",
        "message": (
            "Hi, I make 60-second animated explainer videos for SaaS and industrial tech "
            "companies. Could I make one for FactoryOps AI? Here's my reel: "
            "vimeo.com/412345678. If you're not interested, just reply 'no' and I won't "
            "follow up."
        ),
    },
    {
        "name": "Daniel",
        "company": "Leadify",
        "message": (
            "Hi there, are you the right person to talk to about growing your pipeline? We "
            "help AI startups generate 50+ qualified leads per month on autopilot. "
            "Interested?\n\nTo unsubscribe, reply with 'remove'."
        ),
    },
    {
        "name": "Elena",
        "company": "",
        "message": (
            "Hi dear, I am an investment advisor at a Singapore-based fund. We have a new "
            "token presale with guaranteed 5x returns by Q4. Let me know if you want the "
            "whitepaper."
        ),
    },
    {
        "name": "Domain Broker",
        "company": "",
        "message": (
            "The premium domain factoryops.ai is now available for purchase. Secure it "
            "before your competitors do. Make an offer: domainmarket.com/factoryops"
        ),
    },
    {
        "name": "Maria Santos",
        "company": "",
        "message": (
            "Hi! Are you overwhelmed with admin work? I'm a virtual assistant from the "
            "Philippines offering inbox management, data entry and lead generation at "
            "$6/hour. Let me know if you'd like a free trial day."
        ),
    },
    {
        "name": "WIN BIG",
        "company": "",
        "message": (
            "CONGRATULATIONS!!! YOU HAVE BEEN SELECTED TO RECEIVE A CASH PRIZE OF $5,000. "
            "CLICK THE LINK BELOW TO CLAIM YOUR REWARD NOW: prize-claim.top"
        ),
    },
    {
        "name": "Sam",
        "company": "",
        "message": (
            "I can boost your Google Maps ranking with 50 genuine 5-star Google reviews from "
            "local guides. Only $3 per review. Interested?"
        ),
    },
    {
        "name": "Kevin",
        "company": "LinkVault",
        "message": (
            "Get 500 high-authority backlinks for just $29: permanent, do-follow and "
            "indexed. See the packages at linkvault[.]com"
        ),
    },
    {
        "name": "Игорь",
        "company": "",
        "message": (
            "Лучшее онлайн казино! Бонус 200% на первый депозит \u0438 100 фриспинов. "
            "Заходи: casino-x.ru"
        ),
    },
    {
        "name": "Sanjay",
        "company": "TechSpire Infosoft",
        "message": (
            "Greetings from TechSpire! We are an ISO-certified IT company offering custom "
            "software development, ERP, CRM and mobile app development at very affordable "
            "rates. We have worked with 200+ clients in 15 countries. May I schedule a call "
            "to discuss your requirements?"
        ),
    },
    {
        "name": "HR Department",
        "company": "",
        "message": (
            "Your salary revision letter for 2025 is ready. Please click here to review and "
            "sign before 5 PM today: https://tinyurl.com/hr-rev-2025"
        ),
    },
    {
        "name": "Amazon Rewards",
        "company": "",
        "message": (
            "You have won an Amazon gift card worth Rs 10,000 in our customer survey. Claim "
            "it here: amzn-rewards.top/claim?id=77"
        ),
    },
    {
        "name": "Google Business Support",
        "company": "",
        "message": (
            "Your Google Business Profile will be suspended due to incomplete verification. "
            "Verify now to avoid losing your listing: https://gbp-verify.help/case/4471"
        ),
    },
    {
        "name": "Eric Jones",
        "company": "",
        "message": (
            "Hello FactoryOps AI owner,\n\nMy name's Eric and I just came across your "
            "website. Cool site. But are you getting the leads you deserve? Web Visitors "
            "Into Leads is a tool that captures your visitors' phone numbers so you can call "
            "them while they're still interested. Try it free: "
            "https://boostleads.live/trial\n\nIf you'd like to unsubscribe click here."
        ),
    },
    {
        "name": (
            "\U0001d412\U0001d404\U0001d40e "
            "\U0001d404\U0001d431\U0001d429\U0001d41e\U0001d42b\U0001d42d"
        ),
        "company": "",
        "message": (
            "Boost your rankings with "
            "\U0001d41b\U0001d41a\U0001d41c\U0001d424\U0001d425\U0001d422\U0001d427\U0001d424"
            "\U0001d42c from high authority sites. Cheap packages, fast results."
        ),
    },
    {
        "name": "Chris",
        "company": "",
        "message": (
            "Increase your sales with our targeted B2B database of 2 million manufacturing "
            "decision makers. Filter by industry, revenue and job title. Free sample of 500 "
            "contacts on request."
        ),
    },
    {
        "name": "Ivan",
        "company": "",
        "message": (
            "Hello! \u0421heap \u0441\u0430sin\u043e bonus for new players, register today "
            "and get 50 spins."
        ),
    },
    {
        "name": "Apex Web Studio",
        "company": "apexwebstudio.in",
        "message": (
            "Hello, your website looks outdated and is not mobile friendly. We design modern "
            "responsive websites on WordPress starting at Rs 7,999. Reply to get a free "
            "quote."
        ),
    },
    {
        "name": "Jason",
        "company": "BrightPath Capital",
        "message": (
            "We fund manufacturers! Get working capital or a business loan of $50k-$2M with "
            "low interest rates and no collateral. Approval in 48 hours. See if you qualify: "
            "bizcap-now.com/apply"
        ),
    },
    {
        "name": "Rohit",
        "company": "Growthify Digital",
        "message": (
            "Hi, I'm reaching out from a Bangalore-based agency. We help companies like "
            "yours rank higher on Google and get 3x more enquiries through PPC and content "
            "marketing. Can we schedule a 15-minute call this week?"
        ),
    },
    {
        "name": "Sarah Collins",
        "company": "",
        "message": (
            "Hello, we are offering high quality articles with permanent links on news sites "
            "like Forbes, Entrepreneur and Yahoo. Price list attached on request."
        ),
    },
    {
        "name": "Contact Form Marketing",
        "company": "",
        "message": (
            "Want more customers? We can send your ad to 5 million contact forms like this "
            "one for just $49. Results guaranteed. Email me for details."
        ),
    },
    {
        "name": "Daniel Brown",
        "company": "",
        "message": (
            "Greetings! I am Mr. Daniel Brown, a banker with a proposal worth $12.5 million. "
            "I need a trusted foreign partner. Reply for details."
        ),
    },
    {
        "name": "Domain Services",
        "company": "",
        "message": (
            "Your domain factoryopsai.com is expiring soon! Renew now to avoid losing your "
            "search engine listing: https://domain-renewal-service.org/renew"
        ),
    },
    {
        "name": "Kyle",
        "company": "BotBuilders",
        "message": (
            "Hi! We build custom AI chatbots for websites that convert visitors into leads "
            "24/7. Book a free demo here: calendly.com/botbuilders/demo"
        ),
    },
    {
        "name": "Arbi Profit",
        "company": "",
        "message": (
            "Earn up to 20% monthly profit with our AI-powered arbitrage bot. Minimum "
            "deposit 100 USD. Withdrawals daily. Register: arbiprofit.io"
        ),
    },
    {
        "name": "Grace",
        "company": "LedgerPro Outsourcing",
        "message": (
            "Hi there, do you need help with bookkeeping, payroll or tax filing? Our virtual "
            "accounting team costs 70% less than in-house staff. Reply 'interested' for a "
            "free quote."
        ),
    },
    {
        "name": "Web Fixer",
        "company": "",
        "message": (
            "Hey, I found some errors on your website: slow loading, no SSL on some pages "
            "and broken contact form. I can fix all of them for $99. Interested?"
        ),
    },
    {
        "name": "Travel Deals",
        "company": "",
        "message": (
            "Looking for cheap flights and hotel deals? Visit travel-deals-now.com for up to "
            "70% off."
        ),
    },
    {
        "name": "Priyanka",
        "company": "TalentBridge",
        "message": (
            "Hi, I'm a recruiter. We have 500+ pre-screened software engineers available for "
            "contract roles at $25/hour. Send me your requirements."
        ),
    },
    {
        "name": "InstaGrow",
        "company": "",
        "message": (
            "Want to increase your Instagram followers and likes organically? DM us for a "
            "free trial."
        ),
    },
    {
        "name": "Sales Team",
        "company": "WA Sender Pro",
        "message": (
            "Hello sir, we provide bulk WhatsApp marketing software with unlimited messages "
            "and number filtering. Price only Rs 2999. Demo: wa-sender-pro.in"
        ),
    },
    {
        "name": "Document Center",
        "company": "",
        "message": (
            "Dear partner, kindly review the attached proposal and sign via the secure link: "
            "https://docu-sign-secure.net/view/abc"
        ),
    },
    {
        "name": "Nora",
        "company": "",
        "message": (
            "Hi, I run a small team that builds backlinks and content for industrial blogs. "
            "We have placed links on 200+ engineering sites. Can I share a few samples?"
        ),
    },
    {
        "name": "Alex Turner",
        "company": "Prime Digital",
        "message": (
            "Is your business listed correctly on Google? 80% of customers search online "
            "before buying. We'll optimize your listing and get you into the local 3-pack in "
            "30 days."
        ),
    },
    {
        "name": "Vivian",
        "company": "",
        "message": (
            "Good day, I am contacting you regarding a business proposal of mutual benefit "
            "involving the transfer of $8.7M. Your discretion is highly needed. Kindly "
            "respond."
        ),
    },
    {
        "name": "Crypto Desk",
        "company": "",
        "message": (
            "Bitcoin just hit a new high! Our members made 340% last month with our "
            "copy-trading app. Spots are limited, register today."
        ),
    },
    {
        "name": "Funding Solutions",
        "company": "",
        "message": (
            "Need cash for your business? We offer fast approvals for amounts from $10K to "
            "$500K, no credit check required. Call now."
        ),
    },
    {
        "name": "Michelle",
        "company": "",
        "message": (
            "I'm a web developer with 8 years of experience. I can redesign your website to "
            "make it faster and more modern, starting from $299. Would you like to see my "
            "portfolio?"
        ),
    },
    {
        "name": "Bet365 Promo",
        "company": "",
        "message": (
            "Get a free bet of Rs 500 on your first deposit. Live cricket and football odds, "
            "instant withdrawal. Download the app now!"
        ),
    },
    {
        "name": "Samantha",
        "company": "",
        "message": (
            "Hey there, I noticed you don't have many reviews online. We help businesses get "
            "more 5-star reviews on autopilot. Want me to show you how?"
        ),
    },
    {
        "name": "Tech Support",
        "company": "",
        "message": (
            "Your email account storage is full. Messages will be deleted. Upgrade your "
            "storage now: https://mail-storage-upgrade.com/login"
        ),
    },
    {
        "name": "Olga",
        "company": "",
        "message": (
            "Привет! Хочешь заработать? Работа на дому, от 5000 рублей \u0432 день. Пиши "
            "\u0432 телеграм."
        ),
    },
    {
        "name": "Data Pro",
        "company": "",
        "message": (
            "We sell verified databases of manufacturing companies in India with owner "
            "mobile numbers and emails. 50,000 records at Rs 5000 only. WhatsApp for sample."
        ),
    },
    {
        "name": "Ben",
        "company": "AppCraft",
        "message": (
            "Hello, we develop iOS and Android apps, websites and custom software at "
            "affordable prices. Check our work at appcraft.dev and contact us for a free "
            "estimate."
        ),
    },
    {
        "name": "Jake",
        "company": "RankBoost",
        "message": (
            "Hey! Would you be interested in getting featured on high-traffic tech blogs? We "
            "publish sponsored articles with backlinks starting at $60. Let me know your "
            "budget."
        ),
    },
    {
        "name": "Emma",
        "company": "",
        "message": (
            "Hi, I'm a freelance WordPress developer. I can speed up your site, fix bugs and "
            "set up on-page SEO. Portfolio and reviews on Upwork. Interested?"
        ),
    },
    {
        "name": "Lisa Morgan",
        "company": "LeadHive",
        "message": (
            "Hi, we've compiled a list of 12,000 maintenance managers at US manufacturing "
            "plants with verified emails. Would you like a free sample of 100 contacts?"
        ),
    },
    {
        "name": "Investment Team",
        "company": "",
        "message": (
            "Invest in gold-backed digital tokens and earn 2% daily. Fully secured, withdraw "
            "anytime. Limited slots available. Join: goldtoken-invest.io"
        ),
    },
    {
        "name": "Bank Alert",
        "company": "",
        "message": (
            "Dear customer, your KYC is pending and your account will be blocked within 24 "
            "hours. Update your KYC now: https://bit.ly/kyc-update-in"
        ),
    },
    {
        "name": "Lottery Board",
        "company": "",
        "message": (
            "Your email address has won 750,000 GBP in the international online lottery. "
            "Contact the claims agent with your name, address and phone number."
        ),
    },
    {
        "name": "Rita",
        "company": "",
        "message": (
            "Hello handsome, I saw your profile and want to know you better. I'm lonely and "
            "looking for a serious relationship. Write to me at my private email."
        ),
    },
    {
        "name": "Royal Casino",
        "company": "",
        "message": (
            "Exclusive VIP offer: deposit 1000 and play with 3000! Jackpot every hour, "
            "instant payouts. Register now."
        ),
    },
    {
        "name": "Kevin Marsh",
        "company": "Pixel Perfect",
        "message": (
            "Your website is losing customers. I've recorded a short video audit of "
            "factoryopsai.com showing 5 quick fixes that would double your conversions. Can "
            "I send it over?"
        ),
    },
    {
        "name": "Maxim",
        "company": "",
        "message": (
            "Здравствуйте. Предлагаем услуги по созданию \u0438 продвижению сайтов, "
            "настройке контекстной рекламы. Гарантия результата."
        ),
    },
    {
        "name": "Offshore Devs",
        "company": "",
        "message": (
            "Looking to scale your engineering team? Hire pre-vetted React, Python and AI "
            "developers from India starting at $2,500/month. Free 2-week trial."
        ),
    },
    {
        "name": "Amazon Seller Help",
        "company": "",
        "message": (
            "Struggling with Amazon sales? We manage your Amazon store, PPC ads and product "
            "listings to boost revenue. Book a free strategy session."
        ),
    },
    {
        "name": "John",
        "company": "",
        "message": (
            "Hi, your site has a few accessibility issues that could get you sued under ADA "
            "rules. I can fix them quickly. Reply if you'd like a free report."
        ),
    },
    {
        "name": "Cheap Meds",
        "company": "",
        "message": (
            "Order cialis, tramadol and other meds online, no doctor needed, overnight delivery."
        ),
    },
    {
        "name": "http://bit.ly/3kPq9Zx",
        "company": "",
        "message": "Hi, check this out",
    },
]
